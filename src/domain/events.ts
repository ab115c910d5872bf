import { sql } from 'kysely';
import { iso } from '../clock.js';
import { newId } from '../ids.js';
import { enqueue, type NewDelivery } from '../queue/enqueue.js';
import type { DomainContext, Work } from './context.js';
import type { EventName } from './event-catalog.js';
import { matchesFilter, type EventFilter } from './event-filter.js';

// The catalogue lives in its own import-free module, which the dashboard bundles too.
export { EVENT_NAMES, type EventName } from './event-catalog.js';

/** A delivery target beyond the company's subscribed endpoints (Shield destinations). */
interface ExtraDelivery {
  destinationId: string;
  target: 'webhook' | 'slack' | 'email';
  idempotencyKey: string;
}

export interface EmitInput {
  companyId: string;
  name: EventName;
  complaintId?: string | null;
  data: Record<string, unknown>;
  /** Deliver only to this endpoint (a Test press), whatever its subscription and filter. */
  onlyEndpointId?: string;
  /** Deliver to the company's subscribed endpoints; false for Shield alerts that go only to their destinations. */
  toEndpoints?: boolean;
  extraDeliveries?: ExtraDelivery[];
}

export interface EmittedEvent {
  id: string;
  seq: number;
  body: string;
  deliveryIds: string[];
}

function subscribes(eventsJson: string, name: string): boolean {
  const events = JSON.parse(eventsJson) as string[];
  return events.includes('*') || events.includes(name);
}

/**
 * Writes an event and its deliveries inside the caller's transaction.
 * The per-company sequence is taken by updating the company row, which holds that row's lock until commit: so on
 * PostgreSQL events of one company commit in sequence order and a feed cursor can never skip one.
 */
export async function emitEvent(ctx: DomainContext, work: Work, input: EmitInput): Promise<EmittedEvent> {
  const { tx, now } = work;
  const row = await tx
    .updateTable('companies')
    .set({ event_seq: sql`event_seq + 1` })
    .where('id', '=', input.companyId)
    .returning('event_seq')
    .executeTakeFirstOrThrow();
  const id = newId('evt');
  const body = JSON.stringify({ id, event: input.name, timestamp: iso(now), data: input.data });

  let endpointIds: string[] = [];
  if (input.onlyEndpointId) {
    endpointIds = [input.onlyEndpointId];
  } else if (input.toEndpoints !== false) {
    const endpoints = await tx
      .selectFrom('endpoints')
      .select(['id', 'events', 'filter'])
      .where('company_id', '=', input.companyId)
      .where('enabled', '=', 1)
      .execute();
    // A filtered-out event makes no delivery at all: nothing to claim, nothing in the endpoint's history.
    endpointIds = endpoints
      .filter((e) => subscribes(e.events, input.name))
      .filter((e) => e.filter === null || matchesFilter(JSON.parse(e.filter) as EventFilter, input.data))
      .map((e) => e.id);
  }

  const deliveries: NewDelivery[] = endpointIds.map((endpointId) => ({
    companyId: input.companyId,
    eventId: id,
    endpointId,
    target: 'endpoint',
    idempotencyKey: `${id}:${endpointId}`,
  }));
  for (const extra of input.extraDeliveries ?? []) {
    deliveries.push({
      companyId: input.companyId,
      eventId: id,
      destinationId: extra.destinationId,
      target: extra.target,
      idempotencyKey: extra.idempotencyKey,
    });
  }

  await tx
    .insertInto('events')
    .values({
      id,
      company_id: input.companyId,
      seq: Number(row.event_seq),
      name: input.name,
      complaint_id: input.complaintId ?? null,
      body,
      delivery_status: deliveries.length ? 'pending' : 'none',
      created_at: now,
    })
    .execute();
  const deliveryIds = await enqueue(ctx.store, work, deliveries);
  return { id, seq: Number(row.event_seq), body, deliveryIds };
}
