import { sql } from 'kysely';
import type { Store, Tx } from '../storage/db.js';
import { madeWithin, UNSETTLED } from './conditions.js';
import type { DeliveryStatus } from './delivery.js';
import type { QueueWork } from './enqueue.js';
import { refreshEventStatus } from './event-status.js';
import { wakeAtCommit } from './wakeup.js';

const ROWS_PER_STATEMENT = 500;

/**
 * Starts a new attempt sequence now on these deliveries (a resend): same row, same Idempotency-Key, attempt numbers
 * continue, the retry schedule starts over from its first delay. Only rows of this company still in one of
 * `fromStatuses` and under no live lease are changed, so a worker that claimed one since the caller looked wins and
 * the row is skipped, not stolen. Refreshes their events' status and wakes the workers at commit; returns how many
 * were requeued. `madeAt`, when the caller read the rows, holds their `created_at`: on PostgreSQL a delivered row lies
 * in a span of the history by that time (migration 0059), and a statement that names it reads that span alone.
 */
export async function requeue(
  store: Store,
  work: QueueWork,
  companyId: string,
  ids: readonly string[],
  fromStatuses: readonly DeliveryStatus[],
  madeAt?: readonly number[],
): Promise<number> {
  const { tx, now } = work;
  const eventIds: string[] = [];
  for (let i = 0; i < ids.length; i += ROWS_PER_STATEMENT) {
    const rows = await tx
      .updateTable('deliveries')
      .set({
        status: 'pending',
        next_attempt_at: now,
        lease_until: null,
        lease_owner: null,
        updated_at: now,
        sequence_start: sql<number>`attempt_count`,
      })
      .where('id', 'in', ids.slice(i, i + ROWS_PER_STATEMENT))
      .where('company_id', '=', companyId)
      .where('status', 'in', [...fromStatuses])
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .$if(madeAt !== undefined && madeAt.length > 0, (q) => q.where(madeWithin(madeAt!)))
      .returning('event_id')
      .execute();
    for (const r of rows) eventIds.push(r.event_id);
  }
  if (eventIds.length === 0) return 0;
  await refreshEventStatus(store, tx, eventIds);
  await wakeAtCommit(store, work, 'deliveries');
  return eventIds.length;
}

/**
 * Ends every delivery of an endpoint still to be sent as `dead` with this reason (the endpoint is being deleted),
 * so no worker picks them up; refreshes their events' status. Returns how many were ended.
 */
export async function endUnsettled(
  store: Store,
  tx: Tx,
  now: number,
  companyId: string,
  endpointId: string,
  reason: string,
): Promise<number> {
  const rows = await tx
    .updateTable('deliveries')
    .set({ status: 'dead', next_attempt_at: null, last_error: reason, updated_at: now })
    .where('endpoint_id', '=', endpointId)
    .where('company_id', '=', companyId)
    .where(UNSETTLED)
    .returning('event_id')
    .execute();
  if (rows.length) await refreshEventStatus(store, tx, [...new Set(rows.map((r) => r.event_id))]);
  return rows.length;
}
