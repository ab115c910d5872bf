import { sql } from 'kysely';
import { AppError } from '../errors.js';
import type { AttemptOutcome, AttemptResult, NextState } from '../queue/attempt.js';
import { UNSETTLED } from '../queue/conditions.js';
import type { ClaimedDelivery } from '../queue/delivery.js';
import { defer } from '../queue/release.js';
import type { Store, Tx } from '../storage/db.js';

/**
 * An endpoint's pace: its rate limit, shared by every worker process through a one-second window counted on the
 * endpoint's row, and the hold a receiver asks for with 429 and Retry-After. Both are applied right after a claim:
 * rows over the limit or inside a hold are given back due at the time they may go, and the worker leaves that
 * endpoint out of its claims until then.
 */

export const ENDPOINT_ORDERINGS = ['none', 'per_complaint'] as const;
export type EndpointOrdering = (typeof ENDPOINT_ORDERINGS)[number];
export const RATE_LIMIT_MIN_PER_S = 1;
export const RATE_LIMIT_MAX_PER_S = 10_000;
const WINDOW_MS = 1000;

export function checkOrdering(ordering: unknown): EndpointOrdering {
  if (!ENDPOINT_ORDERINGS.includes(ordering as EndpointOrdering))
    throw new AppError('invalid_ordering', `ordering must be one of ${ENDPOINT_ORDERINGS.join(', ')}`, {
      field: 'ordering',
    });
  return ordering as EndpointOrdering;
}

export function checkRateLimit(perSecond: unknown): number | null {
  if (perSecond === null) return null;
  if (
    typeof perSecond !== 'number' ||
    !Number.isInteger(perSecond) ||
    perSecond < RATE_LIMIT_MIN_PER_S ||
    perSecond > RATE_LIMIT_MAX_PER_S
  )
    throw new AppError(
      'invalid_rate_limit',
      `rate_limit_per_s must be a whole number from ${RATE_LIMIT_MIN_PER_S} to ${RATE_LIMIT_MAX_PER_S}, or null for no limit`,
      { field: 'rate_limit_per_s' },
    );
  return perSecond;
}

export interface Paced<T> {
  /** The rows that may be sent now, in claim order. */
  go: T[];
  /** Endpoints that may not take more before the given time (their window is full, or they are held). */
  paused: Map<string, number>;
}

/**
 * Takes this claim's rows from their endpoints' windows, in one statement for the whole claim: only endpoints with a
 * limit or a live hold are written (and returned); the others' rows all go. Per endpoint the earliest rows up to what
 * its window has left go; the rest, and every row of a held endpoint, are given back due when the next window opens
 * or the hold ends. A window taken but not used (an attempt given back later) is not refunded: the limit errs on the
 * slow side.
 */
export async function pace<T extends ClaimedDelivery>(
  store: Store,
  owner: string,
  now: number,
  claimed: readonly T[],
): Promise<Paced<T>> {
  const counts = new Map<string, number>();
  for (const c of claimed) {
    const id = c.delivery.endpoint_id;
    if (id !== null) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const paused = new Map<string, number>();
  if (counts.size === 0) return { go: [...claimed], paused };
  const window = Math.floor(now / WINDOW_MS) * WINDOW_MS;
  const taking = [...counts].map(([id, n]) => ({ id, n }));
  // A window already newer than ours (another process's clock runs ahead) is counted into, never reset.
  const { rows } = await sql<{ id: string; rate_limit_per_s: number | null; held_until: number | null; used: number }>`
    update endpoints set
      rate_window_used = case when held_until > ${now} then rate_window_used
        when rate_window_start >= ${window} then rate_window_used + v.n else v.n end,
      rate_window_start = case when held_until > ${now} then rate_window_start
        when rate_window_start >= ${window} then rate_window_start else ${window} end
    from ${store.profile.batchRows(taking, { id: 'text', n: 'bigint' })} as v
    where endpoints.id = v.id and (endpoints.rate_limit_per_s is not null or endpoints.held_until > ${now})
    returning endpoints.id, endpoints.rate_limit_per_s, endpoints.held_until, endpoints.rate_window_used as used`.execute(
    store.db,
  );
  if (rows.length === 0) return { go: [...claimed], paused };

  const allowed = new Map<string, number>();
  for (const r of rows) {
    const n = counts.get(r.id) ?? 0;
    const heldUntil = r.held_until === null ? null : Number(r.held_until);
    if (heldUntil !== null && heldUntil > now) {
      allowed.set(r.id, 0);
      paused.set(r.id, heldUntil);
      continue;
    }
    const before = Number(r.used) - n;
    const left = Math.max(0, Math.min(n, Number(r.rate_limit_per_s) - before));
    allowed.set(r.id, left);
    if (left < n || before + n >= Number(r.rate_limit_per_s)) paused.set(r.id, window + WINDOW_MS);
  }
  const go: T[] = [];
  const wait = new Map<number, string[]>();
  for (const c of claimed) {
    const id = c.delivery.endpoint_id;
    const left = id === null ? undefined : allowed.get(id);
    if (left === undefined) go.push(c);
    else if (left > 0) {
      allowed.set(id!, left - 1);
      go.push(c);
    } else {
      const until = paused.get(id!)!;
      const list = wait.get(until);
      if (list) list.push(c.delivery.id);
      else wait.set(until, [c.delivery.id]);
    }
  }
  for (const [until, ids] of wait) await defer(store, ids, owner, until);
  return { go, paused };
}

/** The attempt log's text for a 429 with Retry-After on an endpoint: the whole endpoint waits, not only this row. */
export function holdNote(outcome: AttemptOutcome): AttemptOutcome {
  if (outcome.statusCode !== 429 || !outcome.retryAfterMs) return outcome;
  const seconds = Math.ceil(outcome.retryAfterMs / 1000);
  return {
    ...outcome,
    errorMessage: `HTTP 429: the endpoint's deliveries are held for ${seconds} s (Retry-After)`,
  };
}

/**
 * After a batch of results: an endpoint that answered 429 with Retry-After is held until then — its hold is set (or
 * lengthened, never shortened) and its rows still due before then, not leased, are moved to it, so no worker
 * claims them in between. Runs in the results' transaction.
 */
export async function holdOnRetryAfter(
  tx: Tx,
  applied: ReadonlyArray<{ result: AttemptResult; state: NextState }>,
): Promise<void> {
  const holds = new Map<string, number>();
  for (const { result } of applied) {
    const id = result.delivery.endpoint_id;
    const o = result.outcome;
    if (id === null || !o || o.statusCode !== 429 || !o.retryAfterMs) continue;
    const until = result.finishedAt + o.retryAfterMs;
    holds.set(id, Math.max(holds.get(id) ?? 0, until));
  }
  if (holds.size === 0) return;
  const now = Math.min(...applied.map((a) => a.result.finishedAt));
  for (const [endpointId, until] of holds) {
    await tx
      .updateTable('endpoints')
      .set({ held_until: until })
      .where('id', '=', endpointId)
      .where((eb) => eb.or([eb('held_until', 'is', null), eb('held_until', '<', until)]))
      .execute();
    await tx
      .updateTable('deliveries')
      .set({ next_attempt_at: until })
      .where('endpoint_id', '=', endpointId)
      .where(UNSETTLED)
      .where('next_attempt_at', '<', until)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .execute();
  }
}
