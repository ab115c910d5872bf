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

/** When the earliest unsettled delivery was (or is) due: the front of the due index, one probe. Null: none. */
export async function earliestDueAt(store: Store): Promise<number | null> {
  const { rows } = await sql<{ due: number | string | null }>`
    select min(next_attempt_at) as due from deliveries where ${UNSETTLED}`.execute(store.db);
  const due = rows[0]?.due;
  return due == null ? null : Number(due);
}
