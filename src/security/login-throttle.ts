import type { Clock } from '../clock.js';

/**
 * Slows password guessing without letting anyone lock an account they do not control.
 *
 * Failures are counted per account **and** client address, and per client address across all accounts. After a few
 * free failures each further one makes that key wait longer before its next password is checked (1 s, 2 s, 4 s, …
 * up to 15 min). Nothing is counted per account alone: a stranger's guesses from one address never slow the owner
 * signing in from another. A refused attempt answers exactly like a wrong password (the route still runs the key
 * derivation), so the throttle does not reveal whether an account exists or is being slowed.
 *
 * The state is this process's memory, bounded in size: a restart forgets it, and each server process counts on its
 * own. The key derivation's cost (scrypt) remains the floor under it.
 */

/** Failures of one account from one address before the delays start. */
export const ACCOUNT_ADDRESS_FREE_FAILURES = 3;
/** Failures from one address, whatever the accounts, before the delays start. */
export const ADDRESS_FREE_FAILURES = 20;
export const FIRST_DELAY_MS = 1_000;
export const MAX_DELAY_MS = 15 * 60 * 1000;
/** A key with no failure for this long starts over. */
const FORGET_AFTER_MS = 60 * 60 * 1000;
/** Keys kept at most per table; the oldest are dropped first (a flood of made-up emails cannot grow memory). */
const MAX_TRACKED_KEYS = 50_000;

interface Failures {
  count: number;
  lastFailureAt: number;
  /** Attempts before this time are refused without checking the password. */
  waitUntil: number;
}

/** The wait after `count` failures when the first `free` cost nothing: doubling from 1 s, capped at 15 min. */
export function delayAfter(count: number, free: number): number {
  if (count <= free) return 0;
  const exponent = Math.min(count - free - 1, 30);
  return Math.min(FIRST_DELAY_MS * 2 ** exponent, MAX_DELAY_MS);
}

class FailureTable {
  private readonly entries = new Map<string, Failures>();
  constructor(private readonly free: number) {}

  private live(key: string, now: number): Failures | undefined {
    const entry = this.entries.get(key);
    if (entry && now - entry.lastFailureAt > FORGET_AFTER_MS) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  waiting(key: string, now: number): boolean {
    const entry = this.live(key, now);
    return entry !== undefined && now < entry.waitUntil;
  }

  fail(key: string, now: number): void {
    const entry = this.live(key, now) ?? { count: 0, lastFailureAt: now, waitUntil: 0 };
    entry.count += 1;
    entry.lastFailureAt = now;
    entry.waitUntil = now + delayAfter(entry.count, this.free);
    // Re-inserting moves the key to the end, so the first key of the map is always the least recently failed.
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > MAX_TRACKED_KEYS) this.entries.delete(this.entries.keys().next().value!);
  }

  clear(key: string): void {
    this.entries.delete(key);
  }
}

export class LoginThrottle {
  private readonly byAccountAndAddress = new FailureTable(ACCOUNT_ADDRESS_FREE_FAILURES);
  private readonly byAddress = new FailureTable(ADDRESS_FREE_FAILURES);

  constructor(private readonly clock: Clock) {}

  private static pair(email: string, address: string): string {
    return `${address} ${email}`;
  }

  /** Whether a password for this account from this address may be checked now. */
  allows(email: string, address: string): boolean {
    const now = this.clock.now();
    return (
      !this.byAddress.waiting(address, now) &&
      !this.byAccountAndAddress.waiting(LoginThrottle.pair(email, address), now)
    );
  }

  recordFailure(email: string, address: string): void {
    const now = this.clock.now();
    this.byAccountAndAddress.fail(LoginThrottle.pair(email, address), now);
    this.byAddress.fail(address, now);
  }

  /** A right password from this address forgives that account's failures from it (not the address's others). */
  recordSuccess(email: string, address: string): void {
    this.byAccountAndAddress.clear(LoginThrottle.pair(email, address));
  }
}
