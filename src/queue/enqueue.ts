import { sql, type Compilable } from 'kysely';
import { newId } from '../ids.js';
import type { Store } from '../storage/db.js';
import { insertTogether } from '../storage/insert-together.js';
import { wakeAtCommit, type WakeWork } from './wakeup.js';

/** The part of a unit of work the queue writes in: its transaction, its time, the wake-ups due at its commit. */
export interface QueueWork extends WakeWork {
  now: number;
}

/** One delivery to make: an event to one receiver, a company endpoint or a Shield destination. */
export type NewDelivery = {
  companyId: string;
  eventId: string;
  /** Which kind of target sends it: 'endpoint', or a Shield destination's type. */
  target: string;
  idempotencyKey: string;
  /**
   * For an endpoint that takes its deliveries in order: the key they are ordered by (the complaint) and this one's
   * place (the event's sequence). The claim then holds it back while an earlier one of the same key is unsettled.
   */
  order?: { key: string; seq: number };
} & ({ endpointId: string; destinationId?: undefined } | { destinationId: string; endpointId?: undefined });

/**
 * Writes deliveries in the caller's transaction, due at once, and wakes the workers when it commits (never before:
 * a worker could look for rows it cannot see yet). The event row must be written in the same transaction: the
 * caller's own inserts (`alongside`, the event's among them) go in the same statement as the deliveries on
 * PostgreSQL (insertTogether), so they cost one round trip. Returns the new deliveries' ids, in order.
 */
export async function enqueue(
  store: Store,
  work: QueueWork,
  deliveries: readonly NewDelivery[],
  alongside: readonly Compilable[] = [],
): Promise<string[]> {
  const { now } = work;
  const rows = deliveries.map((d) => ({
    id: newId('dlv'),
    company_id: d.companyId,
    event_id: d.eventId,
    endpoint_id: d.endpointId ?? null,
    destination_id: d.destinationId ?? null,
    target: d.target,
    status: 'pending' as const,
    attempt_count: 0,
    sequence_start: 0,
    next_attempt_at: now,
    idempotency_key: d.idempotencyKey,
    order_key: d.order?.key ?? null,
    order_seq: d.order?.seq ?? null,
    created_at: now,
    updated_at: now,
    // The class of the company's history the delivery belongs to, as it stands now (retention keeps it in step).
    keep_days: sql<number>`(select history_class from companies where id = ${d.companyId})`,
  }));
  // Queued before the inserts (a no-op when the caller queued it already): the NOTIFY is sent at commit anyway.
  if (rows.length) await wakeAtCommit(store, work, 'deliveries');
  await insertTogether(
    store,
    work.tx,
    rows.length ? [...alongside, work.tx.insertInto('deliveries').values(rows)] : alongside,
  );
  return rows.map((r) => r.id);
}
