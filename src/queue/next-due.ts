import { sql } from 'kysely';
import type { Store } from '../storage/db.js';
import { IN_ORDER, SENT_BY_WORKERS, UNSETTLED } from './conditions.js';

/**
 * When the next delivery the workers send and no lease covers falls due, so an idle worker sleeps until then. It reads the due index from
 * its front and steps over only the rows under a live lease (those in flight); a lease that runs out (a crashed
 * worker's) is noticed by the worker's poll, which bounds every sleep. Taking the leases' expiry into the minimum
 * read every unsettled row, and behind one tenant's backlog that was half a million rows per idle turn. Like the
 * claim, an ordered row waiting for an earlier one of its complaint is not due: the worker that records the earlier
 * one settled claims again. `skipEndpoints` are endpoints the caller will not claim from yet (held by a Retry-After,
 * or their rate window full): their rows stay due in the store, and counting them would wake the caller at once,
 * again and again, to claim nothing.
 */
export async function nextDueAt(
  store: Store,
  now: number,
  skipEndpoints: readonly string[] = [],
): Promise<number | null> {
  const skipped = skipEndpoints.length
    ? sql<boolean>`and (endpoint_id is null or endpoint_id not in ${store.profile.batchValues(skipEndpoints)})`
    : sql``;
  const { rows } = await sql<{ next: number | null }>`
    select next_attempt_at as next from deliveries
    where ${UNSETTLED} and ${SENT_BY_WORKERS} and (lease_until is null or lease_until <= ${now}) and ${IN_ORDER}
      ${skipped}
    order by next_attempt_at limit 1`.execute(store.db);
  const next = rows[0]?.next == null ? null : Number(rows[0].next);
  return next === null ? null : Math.max(next, now);
}
