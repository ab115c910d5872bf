import { sql } from 'kysely';
import type { Store } from '../storage/db.js';
import { UNSETTLED } from './conditions.js';

/** Unsettled deliveries by status: pending (never tried, or resent) and failed (waiting for a scheduled retry). */
export async function queueDepth(store: Store): Promise<{ pending: number; failed: number }> {
  // Read through the partial due index (UNSETTLED is its condition): the cost follows the backlog, not the history.
  const { rows } = await sql<{ status: 'pending' | 'failed'; n: number | string }>`
    select status, count(*) as n from deliveries where ${UNSETTLED} group by status`.execute(store.db);
  const depth = { pending: 0, failed: 0 };
  for (const r of rows) depth[r.status] = Number(r.n);
  return depth;
}

/**
 * When the earliest unsettled delivery that may go was (or is) due: the front of the due index. Rows of an endpoint
 * held by its receiver's Retry-After may not go before the hold ends, so they are stepped over while it lasts: a
 * receiver asking for an hour's pause is not the workers falling behind. Null: none.
 */
export async function earliestDueAt(store: Store, now: number): Promise<number | null> {
  const { rows } = await sql<{ due: number | string | null }>`
    select next_attempt_at as due from deliveries d
    where ${UNSETTLED} and not exists (
      select 1 from endpoints e where e.id = d.endpoint_id and e.held_until > ${now})
    order by next_attempt_at limit 1`.execute(store.db);
  const due = rows[0]?.due;
  return due == null ? null : Number(due);
}
