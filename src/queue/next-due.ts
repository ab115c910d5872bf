import { sql } from 'kysely';
import type { Store } from '../storage/db.js';
import { SENT_BY_WORKERS, UNSETTLED } from './conditions.js';

/** When the next delivery the workers send falls due (or a live lease runs out), so an idle worker sleeps exactly until then. */
export async function nextDueAt(store: Store, now: number): Promise<number | null> {
  const { rows } = await sql<{ next: number | null }>`
    select min(case when lease_until is not null and lease_until > ${now} then lease_until else next_attempt_at end) as next
    from deliveries
    where ${UNSETTLED} and ${SENT_BY_WORKERS}`.execute(store.db);
  const next = rows[0]?.next == null ? null : Number(rows[0].next);
  return next === null ? null : Math.max(next, now);
}
