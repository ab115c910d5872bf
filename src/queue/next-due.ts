import { sql } from 'kysely';
import type { Store } from '../storage/db.js';
import { IN_ORDER, UNSETTLED } from './conditions.js';

/**
 * When the next delivery falls due (or a live lease runs out), so an idle worker sleeps exactly until then. Like the
 * claim, an ordered row waiting for an earlier one of its complaint is not due: the earlier one's own time (or lease)
 * counts instead, and the worker that records it settled claims again.
 */
export async function nextDueAt(store: Store, now: number): Promise<number | null> {
  const { rows } = await sql<{ next: number | null }>`
    select min(case when lease_until is not null and lease_until > ${now} then lease_until else next_attempt_at end) as next
    from deliveries
    where ${UNSETTLED} and ${IN_ORDER}`.execute(store.db);
  const next = rows[0]?.next == null ? null : Number(rows[0].next);
  return next === null ? null : Math.max(next, now);
}
