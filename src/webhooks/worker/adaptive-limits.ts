import type { AttemptOutcome } from '../../queue/attempt.js';

/**
 * - `open`: the receiver may have its full cap in flight.
 * - `narrowed`: it failed recently; its limit was halved and widens again by one after each streak of successes.
 * - `probing`: narrowed to one and its last attempt failed too: one attempt at a time tests whether it is back.
 */
export type ConcurrencyState = 'open' | 'narrowed' | 'probing';

/** A receiver's adaptive in-flight limit as this worker holds it. */
export interface ReceiverConcurrency {
  state: ConcurrencyState;
  /** Attempts in flight allowed now: from 1 up to `cap`. */
  limit: number;
  cap: number;
  /** When the state last changed (clock ms); null while it has always been open here. */
  since: number | null;
  /** What narrowed it last (an error kind, or `http_<status>`); null while it has never failed here. */
  reason: string | null;
}

/** Consecutive successes, per step of the current limit, before the limit widens by one. */
export const WIDEN_AFTER = 4;

/**
 * What an attempt's outcome says about its receiver's capacity: it timed out, could not be reached, or answered 5xx or
 * 429 (overloaded: narrow it); it answered (widen it in time); or it says nothing about load (a skip, a refused
 * address, a redirect, another 4xx).
 */
function capacitySignal(outcome: AttemptOutcome | null): { failed: string } | 'ok' | null {
  if (!outcome) return null;
  if (outcome.ok) return 'ok';
  const status = outcome.statusCode;
  if (status !== null && (status >= 500 || status === 429)) return { failed: `http_${status}` };
  switch (outcome.errorKind) {
    case 'timeout':
    case 'connection_refused':
    case 'connection_reset':
    case 'dns':
    case 'tls':
    case 'other':
      return { failed: outcome.errorKind };
    default:
      return status !== null ? 'ok' : null;
  }
}

/**
 * Per-receiver in-flight limits that adapt to how the receiver answers (additive increase, multiplicative decrease):
 * each failure halves the limit, down to one; at one, a receiver that keeps failing is probed by one attempt at a
 * time; each streak of successes (WIDEN_AFTER × the limit) widens it by one, back up to the cap. A dead receiver so
 * holds one slot instead of its cap, while a receiver that recovers is back at full width after a few dozen
 * successes. Only receivers away from `open` are kept: an open receiver is the default.
 *
 * Per process: each worker learns from its own attempts. `changed` is told every time a receiver's state or limit
 * changes (never per attempt while nothing changes), so the caller can publish it.
 */
export class AdaptiveLimits {
  private readonly receivers = new Map<string, ReceiverConcurrency & { streak: number }>();

  constructor(
    private readonly cap: number,
    private readonly now: () => number,
    private readonly changed?: (receiver: string, state: ReceiverConcurrency) => void,
  ) {}

  /** Attempts in flight this receiver may have now. */
  limit(receiver: string): number {
    return this.receivers.get(receiver)?.limit ?? this.cap;
  }

  get(receiver: string): ReceiverConcurrency {
    const r = this.receivers.get(receiver);
    if (!r) return { state: 'open', limit: this.cap, cap: this.cap, since: null, reason: null };
    return { state: r.state, limit: r.limit, cap: r.cap, since: r.since, reason: r.reason };
  }

  /** Receivers narrowed or probing now. */
  get narrowedCount(): number {
    return this.receivers.size;
  }

  /** Learns from one finished attempt. */
  observe(receiver: string, outcome: AttemptOutcome | null): void {
    const signal = capacitySignal(outcome);
    if (signal === null) return;
    const r = this.receivers.get(receiver);
    if (signal === 'ok') {
      if (!r) return;
      r.streak++;
      if (r.streak < WIDEN_AFTER * r.limit) {
        if (r.state === 'probing') this.update(receiver, r, 'narrowed', r.limit);
        return;
      }
      r.streak = 0;
      this.update(receiver, r, r.limit + 1 >= this.cap ? 'open' : 'narrowed', r.limit + 1);
      return;
    }
    const current = r ?? {
      state: 'open' as const,
      limit: this.cap,
      cap: this.cap,
      since: null,
      reason: null,
      streak: 0,
    };
    current.streak = 0;
    current.reason = signal.failed;
    const limit = Math.max(1, Math.floor(current.limit / 2));
    if (!r) this.receivers.set(receiver, current);
    this.update(receiver, current, limit === 1 ? 'probing' : 'narrowed', limit);
  }

  private update(
    receiver: string,
    r: ReceiverConcurrency & { streak: number },
    state: ConcurrencyState,
    limit: number,
  ): void {
    const stateChanged = state !== r.state;
    if (!stateChanged && limit === r.limit) return;
    if (stateChanged) r.since = this.now();
    r.state = state;
    r.limit = Math.min(limit, this.cap);
    if (state === 'open') this.receivers.delete(receiver);
    this.changed?.(receiver, { state: r.state, limit: r.limit, cap: r.cap, since: r.since, reason: r.reason });
  }
}
