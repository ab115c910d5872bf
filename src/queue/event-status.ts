import { sql } from 'kysely';
import type { Store, Tx } from '../storage/db.js';
import { EVENT_STATUS_OF_DELIVERIES } from './conditions.js';

/** Events per statement at most when many change at once (an endpoint deleted, a recovery). */
const EVENTS_PER_STATEMENT = 500;

/**
 * Recomputes the delivery status of these events from their deliveries (conditions.ts), in the caller's
 * transaction, after it changed some of their deliveries. One pass over each event's deliveries (deliveries_event),
 * and no write when the status is unchanged: while an event still has deliveries pending, a batch that settles one
 * of them would otherwise rewrite the row (on PostgreSQL a new row version and an index entry) for nothing.
 * Deliveries are never deleted, so every event passed here has at least one.
 *
 * PostgreSQL, where workers settle sibling deliveries concurrently: `refresh_event_delivery_status`
 * (pg-functions.ts) recomputes under a lock on the event rows, so the last writer sees every sibling's result.
 * SQLite has one writer at a time and needs none of this.
 */
export async function refreshEventStatus(store: Store, tx: Tx, eventIds: readonly string[]): Promise<void> {
  const unique = [...new Set(eventIds)];
  for (let i = 0; i < unique.length; i += EVENTS_PER_STATEMENT) {
    const ids = unique.slice(i, i + EVENTS_PER_STATEMENT);
    if (store.profile.queueFunctions) {
      await sql`select refresh_event_delivery_status(${ids}::text[])`.execute(tx);
      continue;
    }
    await sql`
      update events set delivery_status = s.status
      from (
        select event_id, ${EVENT_STATUS_OF_DELIVERIES} as status
        from deliveries
        where event_id in ${store.profile.batchValues(ids)}
        group by event_id
      ) as s
      where events.id = s.event_id and events.delivery_status <> s.status`.execute(tx);
  }
}
