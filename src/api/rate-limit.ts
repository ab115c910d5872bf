import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

const WINDOW_MS = 60_000;

/** The Platform and Consumer APIs are limited: health probes, the docs and the dashboard's assets are not. */
const LIMITED_PREFIXES = ['/api/v1/', '/api/consumer/v1/'];

/** The bucket a request counts against: its API key, or its consumer, when it has one; else the client address. */
function rateLimitKey(request: FastifyRequest): string {
  const keyId = request.company?.keyId;
  if (keyId) return `key:${keyId}`;
  const consumerId = request.consumer?.consumerId;
  return consumerId ? `consumer:${consumerId}` : `ip:${request.ip}`;
}

/**
 * Per-credential request limit on /api/v1 and /api/consumer/v1 (a fixed one-minute window, in this process's memory):
 * per API key, per consumer (token or portal session), per address for dashboard sessions and anonymous routes.
 *
 * The hook is `preParsing`: it runs after `requireCompany` and `requireConsumer` (`onRequest` hooks) have resolved
 * the credential, so the bucket is the key or consumer, not whatever the header said; and before the body is read,
 * so every request counts, one whose body then fails validation included, and one over the limit is refused without
 * reading its body. Requests that fail authentication never reach it: they spend their address's anonymous budget
 * instead (anonymous-limit.ts).
 */
export async function registerRateLimit(app: FastifyInstance, config: Pick<Config, 'rateLimitPerMin'>): Promise<void> {
  if (config.rateLimitPerMin <= 0) return;
  await app.register(rateLimit, {
    global: true,
    hook: 'preParsing',
    max: config.rateLimitPerMin,
    timeWindow: WINDOW_MS,
    keyGenerator: rateLimitKey,
    allowList: (request) => {
      const url = request.routeOptions.url ?? request.url;
      return !LIMITED_PREFIXES.some((prefix) => url.startsWith(prefix));
    },
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
