import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

const WINDOW_MS = 60_000;

/** Only the Platform API is limited: health probes, the docs and the dashboard's assets are not. */
const LIMITED_PREFIX = '/api/v1/';

/** The bucket a request counts against: its API key when it has one, else the client address. */
function rateLimitKey(request: FastifyRequest): string {
  const keyId = request.company?.keyId;
  return keyId ? `key:${keyId}` : `ip:${request.ip}`;
}

/**
 * Per-key request limit on /api/v1 (a fixed one-minute window, in this process's memory).
 *
 * The hook is `preHandler`, so it runs after `requireCompany` (an `onRequest` hook) has resolved the key: the bucket
 * is the key id, not whatever the header said. Requests that fail authentication never reach it: they spend their
 * address's anonymous budget instead (anonymous-limit.ts), before any body is read.
 */
export async function registerRateLimit(app: FastifyInstance, config: Pick<Config, 'rateLimitPerMin'>): Promise<void> {
  if (config.rateLimitPerMin <= 0) return;
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: config.rateLimitPerMin,
    timeWindow: WINDOW_MS,
    keyGenerator: rateLimitKey,
    allowList: (request) => !(request.routeOptions.url ?? request.url).startsWith(LIMITED_PREFIX),
    // The plugin has already set Retry-After and the X-RateLimit-* headers on the reply; the error handler keeps them.
    errorResponseBuilder: (_request, context) => {
      const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
      return new AppError(
        'rate_limited',
        `Rate limit of ${context.max} requests a minute exceeded; retry in ${retryAfter} s`,
        {
          retry_after: retryAfter,
          limit: context.max,
        },
      );
    },
  });
}
