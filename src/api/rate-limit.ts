import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { CompanyLimits, Config } from '../config.js';
import { overRate } from '../errors.js';
import { BUDGET_WINDOW_MS, CompanyBudget } from './company-budget.js';

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
  registerCompanyLimits(app, config.companyLimits, clock);
}

async function registerCredentialLimit(app: FastifyInstance, perMin: number): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    hook: 'preParsing',
    max: perMin,
    timeWindow: BUDGET_WINDOW_MS,
    keyGenerator: rateLimitKey,
    allowList: (request) => !isLimited(request),
    // The plugin has already set Retry-After and the X-RateLimit-* headers on the reply; the error handler keeps them.
    errorResponseBuilder: (_request, context) =>
      overRate(
        'rate_limited',
        (s) => `Rate limit of ${context.max} requests a minute exceeded; retry in ${s} s`,
        context.ttl,
        { limit: context.max },
      ),
  });
}

/**
 * A company's requests a minute, and the time spent serving them. Each key has its own request limit, so without the
 * first a company's share grew with the keys it made; requests cost very different amounts (a deep page, a count
 * over a million rows), so without the second a company within its request count could still take most of the
 * serving process's time. Both are checked after the per-credential limit (registered before), before the body is
 * read; a request's share of the time it was in flight is charged once it is answered (ServingShares).
 */
function registerCompanyLimits(
  app: FastifyInstance,
  limits: Pick<CompanyLimits, 'requestsPerMin' | 'servingMsPerMin'>,
  clock: Clock,
): void {
  const requests = limits.requestsPerMin > 0 ? new CompanyBudget(limits.requestsPerMin) : null;
  const serving = limits.servingMsPerMin > 0 ? new CompanyBudget(limits.servingMsPerMin) : null;
  if (!requests && !serving) return;
  app.addHook('preParsing', async (request) => {
    const companyId = request.company?.companyId;
    if (!companyId || !isLimited(request)) return;
    const now = clock.now();
    // A millisecond more, or a request more: over, the milliseconds until the company's window ends.
    const timeSpent = serving?.wouldExceed(companyId, 1, now);
    if (serving && timeSpent != null)
      throw overRate(
        'rate_limited',
        (s) =>
          `Your company's requests took ${serving.perMin / 1000} s of this server's time in the last minute, its share; retry in ${s} s`,
        timeSpent,
        { limit: serving.perMin, per: 'company_time' },
      );
    const requestsSpent = requests?.wouldExceed(companyId, 1, now);
    if (requests && requestsSpent != null)
      throw overRate(
        'rate_limited',
        (s) =>
          `Your company's limit of ${requests.perMin} requests a minute, over all its keys and sessions, is used up; retry in ${s} s`,
        requestsSpent,
        { limit: requests.perMin, per: 'company' },
      );
    requests?.spend(companyId, 1, now);
  });
  if (!serving) return;
  const shares = new ServingShares();
  app.addHook('onRequest', async (request, reply) => {
    if (!isLimited(request)) return;
    const started = shares.begin();
    // 'close' comes once the answer is written or the connection is gone, whatever happened before.
    reply.raw.once('close', () => {
      const share = shares.end(started);
      const companyId = request.company?.companyId;
      if (companyId) serving.spend(companyId, share, clock.now());
    });
  });
}

/**
 * Each request's share of the time it was served: while n requests are in flight, each is charged 1/n of the time
 * that passes (a virtual clock that runs at 1/n). Charged its whole elapsed time, a request waiting behind a flood
 * would be charged for the flood, and a company's ten concurrent requests ten times over.
 */
class ServingShares {
  private virtualMs = 0;
  private last = performance.now();
  private inFlight = 0;

  begin(): number {
    this.advance();
    this.inFlight++;
    return this.virtualMs;
  }

  /** The share of the time since `begin` answered `started`. */
  end(started: number): number {
    this.advance();
    this.inFlight--;
    return this.virtualMs - started;
  }

  private advance(): void {
    const now = performance.now();
    if (this.inFlight > 0) this.virtualMs += (now - this.last) / this.inFlight;
    this.last = now;
  }
}
