import { sql } from 'kysely';
import { SpanStatusCode } from '@opentelemetry/api';
import type { AttemptResult } from '../../queue/attempt.js';
import type { Store } from '../../storage/db.js';
import { ATTR, contextOf, SPAN, SpanKind, startSpan } from '../../tracing.js';
import type { HeldDelivery } from './attempt.js';

/**
 * Reads the trace context stored with each claimed row's event, for the attempt spans: one query per claimed batch,
 * made only while tracing is on (the claim itself does not read the column, so tracing off costs it nothing).
 */
export async function loadTraceContexts(store: Store, items: readonly HeldDelivery[]): Promise<void> {
  if (!items.length) return;
  const rows = await store.db
    .selectFrom('events')
    .select(['id', 'traceparent'])
    .where(sql<boolean>`id in ${store.profile.batchValues([...new Set(items.map((i) => i.event.id))])}`)
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r.traceparent]));
  for (const item of items) item.traceparent = byId.get(item.event.id) ?? null;
}

/**
 * Runs one attempt inside its span: a child of the span that wrote the event (the API request's trace), with what
 * the attempt was and how it ended. Names and ids only: no body, header, URL or secret goes on a span.
 */
export async function tracedAttempt(item: HeldDelivery, attempt: () => Promise<AttemptResult>): Promise<AttemptResult> {
  const { delivery } = item;
  const span = startSpan(
    SPAN.deliveryAttempt,
    {
      [ATTR.companyId]: delivery.company_id,
      [ATTR.eventId]: item.event.id,
      [ATTR.eventName]: item.event.name,
      [ATTR.deliveryId]: delivery.id,
      [ATTR.target]: delivery.target,
      [ATTR.attempt]: delivery.attempt_count + 1,
      ...(delivery.endpoint_id ? { [ATTR.endpointId]: delivery.endpoint_id } : {}),
      ...(delivery.destination_id ? { [ATTR.destinationId]: delivery.destination_id } : {}),
    },
    contextOf(item.traceparent),
    SpanKind.CLIENT,
  );
  try {
    const result = await attempt();
    const { outcome } = result;
    if (!outcome) {
      span.setAttribute(ATTR.outcome, 'skipped');
    } else {
      span.setAttribute(ATTR.outcome, outcome.ok ? 'success' : (outcome.errorKind ?? 'error'));
      if (outcome.statusCode !== null) span.setAttribute(ATTR.statusCode, outcome.statusCode);
      if (!outcome.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.errorKind ?? 'error' });
    }
    return result;
  } catch (err) {
    span.setAttribute(ATTR.outcome, 'fault');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'the attempt failed unexpectedly' });
    throw err;
  } finally {
    span.end();
  }
}
