import { sql, type Compilable } from 'kysely';
import { iso } from '../clock.js';
import { newId } from '../ids.js';
import { ATTR, SPAN, startSpan, traceparentOf, tracingEnabled } from '../tracing.js';
import { enqueue, type NewDelivery } from '../queue/enqueue.js';
import { wakeAtCommit } from '../queue/wakeup.js';
import type { DomainContext, Work } from './context.js';
import { isOperationalEvent, type EventName } from './event-catalog.js';
import { matchesFilter, type EventFilter } from './event-filter.js';

// The catalogue lives in its own import-free module, which the dashboard bundles too.
export { EVENT_NAMES, type EventName } from './event-catalog.js';

/** A delivery target beyond the company's subscribed endpoints (Shield destinations). */
interface ExtraDelivery {
  destinationId: string;
  target: 'webhook' | 'slack' | 'email' | 'broker' | 'ops_email' | 'ops_slack';
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
  /** Never deliver to this endpoint (an operational event about it). */
  excludeEndpointId?: string;
  extraDeliveries?: ExtraDelivery[];
}

export interface EmittedEvent {
  id: string;
  seq: number;
  body: string;
  deliveryIds: string[];
}

/** `*` means every complaint event; operational events go only to endpoints that name them. */
function subscribes(eventsJson: string, name: string): boolean {
  const events = JSON.parse(eventsJson) as string[];
  return events.includes(name) || (events.includes('*') && !isOperationalEvent(name));
}

const passes = (filter: string | null, data: Record<string, unknown>) =>
  filter === null || matchesFilter(JSON.parse(filter) as EventFilter, data);

/** Who may receive an event, read before the company row is locked (see emitEvent). */
export interface EventTargets {
  /** The endpoints it goes to: their filters applied when the data was known, applied again when it is written. */
  endpoints: Array<{
    id: string;
    filter: string | null;
    /** A development endpoint of `escalatr listen`: its deliveries go over the listener's connection. */
    listener: boolean;
    ordering: 'none' | 'per_complaint';
  }>;
}

/**
 * The part of writing an event that does not need the company's sequence: the subscribed endpoints are read and the
 * workers' wake-up is queued (PostgreSQL sends it at commit whenever it was asked for). Done before the sequence is
 * taken, these round trips are not made while the company row is locked.
 */
export async function eventTargets(
  ctx: DomainContext,
  work: Work,
  input: Pick<
    EmitInput,
    'companyId' | 'name' | 'onlyEndpointId' | 'toEndpoints' | 'excludeEndpointId' | 'extraDeliveries'
  > &
    Partial<Pick<EmitInput, 'data'>>,
): Promise<EventTargets> {
  let endpoints: EventTargets['endpoints'] = [];
  if (input.onlyEndpointId) {
    const row = await work.tx
      .selectFrom('endpoints')
      .select('listener_seen_at')
      .where('id', '=', input.onlyEndpointId)
      .executeTakeFirst();
    endpoints = [{ id: input.onlyEndpointId, filter: null, listener: row?.listener_seen_at != null, ordering: 'none' }];
  } else if (input.toEndpoints !== false) {
    const rows = await work.tx
      .selectFrom('endpoints')
      .select(['id', 'events', 'filter', 'listener_seen_at', 'ordering'])
      .where('company_id', '=', input.companyId)
      .where('enabled', '=', 1)
      .execute();
    endpoints = rows
      .filter((e) => e.id !== input.excludeEndpointId && subscribes(e.events, input.name))
      .map((e) => ({ id: e.id, filter: e.filter, listener: e.listener_seen_at !== null, ordering: e.ordering }));
  }
  // With the event's data at hand the filters decide now; without it (it needs the sequence) any endpoint may match.
  const data = input.data;
  const matching = data ? endpoints.filter((e) => passes(e.filter, data)) : endpoints;
  if (matching.length || input.extraDeliveries?.length) await wakeAtCommit(ctx.store, work, 'deliveries');
  return { endpoints: matching };
}

/**
 * Takes the company's next event sequence number by updating the company row, which holds that row's lock until
 * commit: so on PostgreSQL events of one company commit in sequence order and a feed cursor can never skip one. Every
 * write of the company's events queues behind that lock, so the fewer round trips a transaction makes after taking
 * it, the more events per second one company can write.
 */
async function takeEventSeq(work: Work, companyId: string): Promise<number> {
  const row = await work.tx
    .updateTable('companies')
    .set({ event_seq: sql`event_seq + 1` })
    .where('id', '=', companyId)
    .returning('event_seq')
    .executeTakeFirstOrThrow();
  return Number(row.event_seq);
}

/** Writes an event and its deliveries inside the caller's transaction. */
export async function emitEvent(ctx: DomainContext, work: Work, input: EmitInput): Promise<EmittedEvent> {
  const targets = await eventTargets(ctx, work, input);
  return writeEvent(ctx, work, input, targets, await takeEventSeq(work, input.companyId));
}

/**
 * Writes an event whose targets were read and whose sequence number was taken by the caller (who locked the company
 * row for it, as emitEvent does), and its deliveries, with the caller's other inserts (`alongside`): on PostgreSQL
 * all in one statement, so the row is held for one round trip and the commit.
 */
export async function writeEvent(
  ctx: DomainContext,
  work: Work,
  input: EmitInput,
  targets: EventTargets,
  seq: number,
  alongside: readonly Compilable[] = [],
): Promise<EmittedEvent> {
  const { tx, now } = work;
  const id = newId('evt');
  work.writtenEvent ??= id;
  // The feed answers these bytes as they are when they have this form, data last (src/api/shapes/events.ts).
  const body = JSON.stringify({ id, event: input.name, timestamp: iso(now), data: input.data });
  // A filtered-out event makes no delivery at all: nothing to claim, nothing in the endpoint's history.
  const receiving = targets.endpoints.filter((e) => passes(e.filter, input.data));
  // An ordered endpoint gets a complaint's events in sequence order, which is the company's commit order.
  const complaintId = input.complaintId ?? null;

  const deliveries: NewDelivery[] = receiving.map((endpoint) => ({
    companyId: input.companyId,
    eventId: id,
    endpointId: endpoint.id,
    target: endpoint.listener ? 'listener' : 'endpoint',
    idempotencyKey: `${id}:${endpoint.id}`,
    ...(endpoint.ordering === 'per_complaint' && complaintId !== null ? { order: { key: complaintId, seq } } : {}),
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

  // With tracing on, the event's span (a child of the request's) is stored with it: its deliveries' attempts continue
  // that trace later, from whichever worker process claims them.
  const span = tracingEnabled()
    ? startSpan(SPAN.eventWritten, {
        [ATTR.companyId]: input.companyId,
        [ATTR.eventId]: id,
        [ATTR.eventName]: input.name,
        [ATTR.deliveries]: deliveries.length,
      })
    : null;
  const traceparent = span ? traceparentOf(span) : null;
  const eventInsert = tx.insertInto('events').values({
    id,
    company_id: input.companyId,
    seq,
    name: input.name,
    complaint_id: input.complaintId ?? null,
    body,
    delivery_status: deliveries.length ? 'pending' : 'none',
    created_at: now,
    ...(traceparent ? { traceparent } : {}),
  });
  try {
    const deliveryIds = await enqueue(ctx.store, work, deliveries, [...alongside, eventInsert]);
    return { id, seq, body, deliveryIds };
  } finally {
    span?.end();
  }
}
