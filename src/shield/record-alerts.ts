import { sql } from 'kysely';
import { iso } from '../clock.js';
import type { DomainContext } from '../domain/context.js';
import type { Store } from '../storage/db.js';
import type { DeliveriesTable } from '../storage/schema.js';
import type { ShieldAlertPayload } from './alerts.js';
import { destinationView } from './automations.js';
import { getFeedback } from './feedback.js';

/** One delivery of an alert: to a destination of the automation, or to a company endpoint subscribed to alerts. */
export interface AlertDeliveryView {
  id: string;
  target: string;
  endpoint_id: string | null;
  destination_id: string | null;
  /** The destination as the automation shows it (credentials never); null for endpoints and removed destinations. */
  destination: ReturnType<typeof destinationView> | null;
  status: DeliveriesTable['status'];
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  updated_at: string;
}

/** One `shield.alert` raised for a record, with the state of each of its deliveries. */
export interface RecordAlertView {
  event_id: string;
  automation_id: string;
  /** null once the automation was deleted. */
  automation_name: string | null;
  escalated_at: string;
  levels: ShieldAlertPayload['levels'];
  deliveries: AlertDeliveryView[];
}

const ALERT_EVENT = 'shield.alert';

/** The `shield.alert` events of one record: read through the partial index on the record id in their bodies. */
export function alertEventsOf(store: Pick<Store, 'db' | 'profile'>, companyId: string, recordId: string) {
  return (
    store.db
      .selectFrom('events as e')
      .where('e.company_id', '=', companyId)
      // A literal, not a parameter: the index is partial on this name, and only a literal proves a query inside it.
      .where('e.name', '=', sql.lit(ALERT_EVENT))
      .where(store.profile.shieldAlertRecordId('e'), '=', recordId)
  );
}

/**
 * The alerts sent for one feedback record, newest first: each automation that fired, when, and where each delivery
 * stands. The record is looked up first, so another company's record id answers not found like a missing one.
 */
export async function listRecordAlerts(
  ctx: DomainContext,
  companyId: string,
  recordId: string,
  page: { page: number; limit: number },
): Promise<{ items: RecordAlertView[]; total: number }> {
  const db = ctx.store.db;
  await getFeedback(db, companyId, recordId);
  const base = alertEventsOf(ctx.store, companyId, recordId);
  const [events, count] = await Promise.all([
    base
      .select(['e.id', 'e.body'])
      .orderBy('e.seq', 'desc')
      .limit(page.limit)
      .offset((page.page - 1) * page.limit)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  if (events.length === 0) return { items: [], total: Number(count.n) };

  const eventIds = events.map((e) => e.id);
  const deliveries = await db
    .selectFrom('deliveries')
    .select([
      'id',
      'event_id',
      'target',
      'endpoint_id',
      'destination_id',
      'status',
      'attempt_count',
      'next_attempt_at',
      'last_status_code',
      'last_error',
      'updated_at',
    ])
    .where('company_id', '=', companyId)
    .where('event_id', 'in', eventIds)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const payloads = new Map(events.map((e) => [e.id, (JSON.parse(e.body) as { data: ShieldAlertPayload }).data]));
  const destinationIds = [...new Set(deliveries.flatMap((d) => (d.destination_id ? [d.destination_id] : [])))];
  const automationIds = [...new Set([...payloads.values()].map((p) => p.automation_id))];
  const [destinations, automations] = await Promise.all([
    destinationIds.length
      ? db
          .selectFrom('destinations')
          .selectAll()
          .where('company_id', '=', companyId)
          .where('id', 'in', destinationIds)
          .execute()
      : [],
    db
      .selectFrom('automations')
      .select(['id', 'name'])
      .where('company_id', '=', companyId)
      .where('id', 'in', automationIds)
      .execute(),
  ]);
  const destinationById = new Map(destinations.map((d) => [d.id, destinationView(ctx, d)]));
  const automationName = new Map(automations.map((a) => [a.id, a.name]));

  const items = events.map((e): RecordAlertView => {
    const payload = payloads.get(e.id)!;
    return {
      event_id: e.id,
      automation_id: payload.automation_id,
      automation_name: automationName.get(payload.automation_id) ?? null,
      escalated_at: payload.escalated_at,
      levels: payload.levels,
      deliveries: deliveries
        .filter((d) => d.event_id === e.id)
        .map((d) => ({
          id: d.id,
          target: d.target,
          endpoint_id: d.endpoint_id,
          destination_id: d.destination_id,
          destination: (d.destination_id && destinationById.get(d.destination_id)) || null,
          status: d.status,
          attempt_count: Number(d.attempt_count),
          // Only rows still to be sent have a meaningful next attempt.
          next_attempt_at:
            (d.status === 'pending' || d.status === 'failed') && d.next_attempt_at !== null
              ? iso(Number(d.next_attempt_at))
              : null,
          last_status_code: d.last_status_code === null ? null : Number(d.last_status_code),
          last_error: d.last_error,
          updated_at: iso(Number(d.updated_at)),
        })),
    };
  });
  return { items, total: Number(count.n) };
}
