import { sql } from 'kysely';
import type { Tx } from '../storage/db.js';
import { UNSETTLED } from './conditions.js';

/**
 * An endpoint's ordering changed: its deliveries still to be sent take the new one. Ordered, each is keyed by its
 * event's complaint and placed by the event's sequence (events without a complaint stay unordered); unordered, the
 * keys are cleared and the rows no longer wait for each other.
 */
export async function reorderUnsettled(tx: Tx, companyId: string, endpointId: string, ordered: boolean): Promise<void> {
  await tx
    .updateTable('deliveries')
    .set(
      ordered
        ? {
            order_key: sql<string | null>`(select complaint_id from events where events.id = deliveries.event_id)`,
            order_seq: sql<number | null>`(select seq from events where events.id = deliveries.event_id)`,
          }
        : { order_key: null, order_seq: null },
    )
    .where('endpoint_id', '=', endpointId)
    .where('company_id', '=', companyId)
    .where(UNSETTLED)
    .execute();
}
