import type { Tx } from '../storage/db.js';
import type { DialectProfile } from '../storage/dialects.js';

const EVENTS_PER_STATEMENT = 500;

/**
 * Drops the response excerpts recorded for every delivery of these events. A receiver may echo the body it was sent
 * (many do), so once an event's body is redacted its attempts' excerpts can still hold what was erased; the
 * status, duration and error kind of each attempt stay. Returns how many attempts lost their excerpt.
 *
 * Where attempts are partitioned, retention removes a delivery while its attempts wait for their partition to be
 * dropped: those are found by their own event id, as no delivery leads to them any more.
 */
export async function clearResponseExcerpts(
  tx: Tx,
  profile: Pick<DialectProfile, 'partitionedHistory'>,
  eventIds: readonly string[],
): Promise<number> {
  let cleared = 0;
  for (let i = 0; i < eventIds.length; i += EVENTS_PER_STATEMENT) {
    const part = eventIds.slice(i, i + EVENTS_PER_STATEMENT);
    const result = await tx
      .updateTable('attempts')
      .set({ response_excerpt: null })
      .where('response_excerpt', 'is not', null)
      .where('delivery_id', 'in', (q) => q.selectFrom('deliveries').select('id').where('event_id', 'in', part))
      .executeTakeFirst();
    cleared += Number(result.numUpdatedRows);
    if (!profile.partitionedHistory) continue;
    const orphans = await tx
      .updateTable('attempts')
      .set({ response_excerpt: null })
      .where('response_excerpt', 'is not', null)
      .where('event_id', 'in', part)
      .executeTakeFirst();
    cleared += Number(orphans.numUpdatedRows);
  }
  return cleared;
}
