import { sql } from 'kysely';
import { systemClock, type Clock } from '../clock.js';
import type { Db } from './db.js';
import type { DialectProfile } from './dialects.js';

/**
 * How long after a write failed because the store was unavailable (disk full, read-only file, connection lost)
 * the service still reports not ready. It matches the `Retry-After: 5` of the 503 answers.
 */
export const UNAVAILABLE_WINDOW_MS = 5_000;

/** A readiness probe that takes longer than this counts as a failure (a hung connection must not hang /readyz). */
const PROBE_TIMEOUT_MS = 2_000;

export type Readiness =
  { ready: true } | { ready: false; reason: 'store_unreachable' | 'store_write_failed'; retry_after_s: number };

/**
 * Whether the store can serve the API right now.
 *
 * A `select 1` alone does not notice a full disk or a read-only SQLite file: reads still work while every write
 * fails. So readiness is two things: the store answers a `select 1` in time, AND no write failed with a
 * store-unavailable error in the last UNAVAILABLE_WINDOW_MS. The error handler reports those failures here. Once
 * space is back (or the server is up again) the window runs out and readiness returns by itself; a write that
 * still fails opens a new window. A cheap write probe was the alternative, but a probe that commits needs a
 * table of its own and one that rolls back never reaches the disk (a full WAL goes unnoticed), so it would be
 * neither cheap nor truthful.
 *
 * Time comes from an injected clock, so tests move past the window without sleeping.
 */
export class StoreAvailability {
  private clock: Clock = systemClock;
  private lastFailureAt: number | null = null;

  constructor(private readonly profile: DialectProfile) {}

  useClock(clock: Clock): void {
    this.clock = clock;
  }

  /** Looks at an error from a store operation; records and returns true when it means the store is unavailable. */
  noteError(err: unknown): boolean {
    if (!this.profile.isUnavailable(err)) return false;
    this.lastFailureAt = this.clock.now();
    return true;
  }

  /** Milliseconds of the not-ready window left after the last unavailable error (0 when none is open). */
  windowLeftMs(): number {
    if (this.lastFailureAt === null) return 0;
    return Math.max(0, this.lastFailureAt + UNAVAILABLE_WINDOW_MS - this.clock.now());
  }

  async check(db: Db): Promise<Readiness> {
    try {
      await withTimeout(sql`select 1`.execute(db), PROBE_TIMEOUT_MS);
    } catch {
      return { ready: false, reason: 'store_unreachable', retry_after_s: Math.ceil(UNAVAILABLE_WINDOW_MS / 1000) };
    }
    const left = this.windowLeftMs();
    if (left > 0)
      return { ready: false, reason: 'store_write_failed', retry_after_s: Math.max(1, Math.ceil(left / 1000)) };
    return { ready: true };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  // The probe keeps running if it loses the race; its late failure must not become an unhandled rejection.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
