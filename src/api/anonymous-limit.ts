import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts requests without valid credentials per client address (see AnonymousLimit). */
    anonymousLimit: AnonymousLimit;
  }
}

const WINDOW_MS = 60_000;
/** Addresses tracked at most; the oldest window is dropped first, so a spread of addresses cannot grow memory. */
const MAX_TRACKED_ADDRESSES = 100_000;

/**
 * A per-address budget for anonymous traffic: sign-in attempts and requests whose credentials fail. It is spent in
 * the authentication hook, which runs when the request arrives, so a flood is answered 429 before any body is read
 * or parsed. Authenticated traffic is limited per API key instead (rate-limit.ts). A fixed window, in this process's
 * memory, on the app's clock.
 */
class AnonymousLimit {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly clock: Clock,
    /** Requests a minute per address; 0 turns the limit off. */
    readonly perMinute: number,
  ) {}

  /** Spends one request of the caller's budget; throws `rate_limited` (429) once it is used up. */
  spend(request: FastifyRequest): void {
    if (this.perMinute <= 0) return;
    const now = this.clock.now();
    const address = request.ip;
    let window = this.windows.get(address);
    if (!window || now - window.start >= WINDOW_MS) {
      this.windows.delete(address);
      window = { start: now, count: 0 };
      this.windows.set(address, window);
      if (this.windows.size > MAX_TRACKED_ADDRESSES) this.windows.delete(this.windows.keys().next().value!);
    }
    window.count += 1;
    if (window.count > this.perMinute) {
      const retryAfter = Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000));
      throw new AppError(
        'rate_limited',
        `Too many requests without valid credentials from this address; retry in ${retryAfter} s`,
        { retry_after: retryAfter, limit: this.perMinute },
      );
    }
  }
}

export function registerAnonymousLimit(app: FastifyInstance, clock: Clock, perMinute: number): void {
  const limit = new AnonymousLimit(clock, perMinute);
  app.decorate('anonymousLimit', limit);
  // An unknown route checks no credentials, yet its body would be read for the 404: it is anonymous traffic too.
  app.addHook('onRequest', async (request) => {
    if (request.is404) limit.spend(request);
  });
}
