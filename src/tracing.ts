import {
  context,
  isSpanContextValid,
  propagation,
  trace,
  SpanKind,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';

/**
 * The spans Escalatr writes itself, through the OpenTelemetry API only. Until a process starts the SDK
 * (runtime/telemetry.ts) the API hands out non-recording spans and nothing here reads or writes the store, so tracing
 * off costs a flag test per event and per attempt.
 */

/** Span and attribute names, in one place: the tests and the operations document name the same ones. */
export const SPAN = { eventWritten: 'event written', deliveryAttempt: 'delivery attempt' } as const;
export const ATTR = {
  companyId: 'escalatr.company.id',
  endpointId: 'escalatr.endpoint.id',
  destinationId: 'escalatr.destination.id',
  eventId: 'escalatr.event.id',
  eventName: 'escalatr.event.name',
  deliveryId: 'escalatr.delivery.id',
  deliveries: 'escalatr.event.deliveries',
  target: 'escalatr.delivery.target',
  attempt: 'escalatr.attempt.number',
  outcome: 'escalatr.attempt.outcome',
  statusCode: 'http.response.status_code',
} as const;

let enabled = false;

/** Set by the process that started the SDK; while false no trace context is read or written. */
export function setTracingEnabled(on: boolean): void {
  enabled = on;
}

export function tracingEnabled(): boolean {
  return enabled;
}

const tracer = () => trace.getTracer('escalatr');

/**
 * Starts a span as a child of the active one (the API request's, when an event is written by a request), ended by
 * the caller. Only called while tracing is on.
 */
export function startSpan(
  name: string,
  attributes: Attributes,
  parent: Context = context.active(),
  kind: SpanKind = SpanKind.INTERNAL,
): Span {
  return tracer().startSpan(name, { attributes, kind }, parent);
}

export { SpanKind };

/**
 * The span's W3C traceparent, to be stored with the row it wrote. An unsampled span's is stored too (its flags say
 * so): the attempts then follow the request's sampling decision instead of each starting a trace of its own.
 */
export function traceparentOf(span: Span): string | null {
  if (!isSpanContextValid(span.spanContext())) return null;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return carrier.traceparent ?? null;
}

/** The context a stored traceparent names (the root context when there is none), for a span started later. */
export function contextOf(traceparent: string | null | undefined): Context {
  const root = context.active();
  if (!traceparent) return root;
  return propagation.extract(root, { traceparent });
}
