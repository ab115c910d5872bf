import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

const WINDOW_MS = 60_000;

/** The Platform and Consumer APIs are limited: health probes, the docs and the dashboard's assets are not. */
const LIMITED_PREFIXES = ['/api/v1/', '/api/consumer/v1/'];

const isLimited = (request: FastifyRequest) => {
  const url = request.routeOptions.url ?? request.url;
  return LIMITED_PREFIXES.some((prefix) => url.startsWith(prefix));
};

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
export async function registerRateLimit(
  app: FastifyInstance,
  config: Pick<Config, 'rateLimitPerMin' | 'companyLimits'>,
  clock: Clock,
): Promise<void> {
  if (config.rateLimitPerMin > 0) await registerCredentialLimit(app, config.rateLimitPerMin);
  const perCompany = config.companyLimits.requestsPerMin;
  if (perCompany > 0) registerCompanyLimit(app, new CompanyRequestBudget(perCompany), clock);
}

async function registerCredentialLimit(app: FastifyInstance, perMin: number): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    hook: 'preParsing',
    max: perMin,
    timeWindow: WINDOW_MS,
    keyGenerator: rateLimitKey,
    allowList: (request) => !isLimited(request),
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

/**
 * Requests of one company a minute, over all its API keys and dashboard sessions: each key has its own limit, so
 * without this a company's share of the server grew with the keys it made. A fixed window per company, opened by its
 * first request; companies whose window has ended are forgotten once many are held.
 */
class CompanyRequestBudget {
  private readonly windows = new Map<string, { start: number; used: number }>();

  constructor(readonly perMin: number) {}

  /** Counts one request; over the limit, the milliseconds until the window ends (and nothing is counted). */
  take(companyId: string, now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    let window = this.windows.get(companyId);
    if (!window || now - window.start >= WINDOW_MS) {
      if (this.windows.size >= FORGET_AFTER) this.forgetEnded(now);
      window = { start: now, used: 0 };
      this.windows.set(companyId, window);
    }
    if (window.used >= this.perMin) return { ok: false, retryAfterMs: window.start + WINDOW_MS - now };
    window.used++;
    return { ok: true };
  }

  private forgetEnded(now: number): void {
    for (const [id, window] of this.windows) if (now - window.start >= WINDOW_MS) this.windows.delete(id);
  }
}

const FORGET_AFTER = 10_000;

/** Runs after the per-credential limit (registered before it), at the same point: before the body is read. */
function registerCompanyLimit(app: FastifyInstance, budget: CompanyRequestBudget, clock: Clock): void {
  app.addHook('preParsing', async (request) => {
    const companyId = request.company?.companyId;
    if (!companyId || !isLimited(request)) return;
    const taken = budget.take(companyId, clock.now());
    if (taken.ok) return;
    const retryAfter = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
    throw new AppError(
      'rate_limited',
      `Your company's limit of ${budget.perMin} requests a minute, over all its keys and sessions, is used up; retry in ${retryAfter} s`,
      { retry_after: retryAfter, limit: budget.perMin, per: 'company' },
    );
  });
}
