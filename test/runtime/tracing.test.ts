import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startTelemetry, tracesRequested, type Telemetry } from '../../src/runtime/telemetry.js';
import { ATTR, SPAN, tracingEnabled } from '../../src/tracing.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';

/** Files the tests' complaint through the consumer API (one request span, one event), with any extra headers. */
async function fileOven(t: TestApp, consumerToken: string, headers: Record<string, string> = {}): Promise<void> {
  const filed = await t.app.http.inject({
    method: 'POST',
    url: '/api/consumer/v1/complaints',
    headers: { ...bearer(consumerToken), ...headers },
    payload: { company_code: 'VOLT', complaint_category: 'Consumer Durables', title: 'Oven', description: 'Cold' },
  });
  expect(filed.statusCode).toBe(201);
}

/** A span as OTLP/HTTP JSON carries it (ids in hex, attributes as typed values). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: number | string } }>;
  status?: { code?: number };
}

interface Collector {
  url: string;
  spans: OtlpSpan[];
  /** Resource attributes of every batch received (service.name among them). */
  services: string[];
  paths: string[];
  /** Bodies sent in the protobuf encoding, kept as received. */
  protobuf: Buffer[];
  close(): Promise<void>;
}

/** An OTLP/HTTP receiver on loopback accepting the JSON encoding, as a collector would. */
async function startCollector(): Promise<Collector> {
  const spans: OtlpSpan[] = [];
  const services: string[] = [];
  const paths: string[] = [];
  const protobuf: Buffer[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      if (req.headers['content-type'] === 'application/x-protobuf') {
        protobuf.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        resourceSpans: Array<{
          resource: { attributes: OtlpSpan['attributes'] };
          scopeSpans: Array<{ spans: OtlpSpan[] }>;
        }>;
      };
      for (const rs of body.resourceSpans) {
        const name = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
        if (name) services.push(name);
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    services,
    paths,
    protobuf,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  return v.stringValue ?? (v.intValue === undefined ? undefined : Number(v.intValue));
};

const OTEL_VARS = [
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_SERVICE_NAME',
  'OTEL_SDK_DISABLED',
];

describe('OpenTelemetry traces: request → event → delivery attempts', () => {
  let collector: Collector;
  let telemetry: Telemetry;
  let t: TestApp;
  let rx: Receiver;
  let w: RunningWorker;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  const saved: Record<string, string | undefined> = {};

  beforeEach(async () => {
    for (const name of OTEL_VARS) saved[name] = process.env[name];
    collector = await startCollector();
    process.env.OTEL_TRACES_EXPORTER = 'otlp';
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';
    process.env.OTEL_SERVICE_NAME = 'escalatr-under-test';
    delete process.env.OTEL_SDK_DISABLED;
    telemetry = (await startTelemetry(process.env))!;
    t = await createTestApp({ clock: new ManualClock(Date.now()), tracing: telemetry });
    tenant = await seedTenant(t);
    // The first answer fails, so the delivery has two attempts: each its own span under the event's.
    rx = await startReceiver({ behaviour: (_req, n) => ({ status: n === 1 ? 503 : 200 }) });
    w = await testWorker(t);
  });

  afterEach(async () => {
    await w.stop();
    await rx.close();
    await t.close();
    await telemetry.shutdown();
    await collector.close();
    for (const name of OTEL_VARS) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it('links the request span, the event span and each attempt span, with ids and outcomes but no bodies', async () => {
    const ep = await addEndpoint(t, tenant.company.id, rx.url);
    const filed = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints?source=test',
      headers: bearer(tenant.consumerToken),
      payload: {
        company_code: 'VOLT',
        complaint_category: 'Consumer Durables',
        title: 'Fridge',
        description: 'Stopped cooling',
      },
    });
    expect(filed.statusCode).toBe(201);

    // The worker runs outside any request: its spans can only find the trace through the event's row.
    expect(await w.worker.drain()).toBe(1);
    t.clock.advance(t.config.retryScheduleMs[0]);
    expect(await w.worker.drain()).toBe(1);
    await telemetry.forceFlush();

    expect(collector.paths.every((p) => p.startsWith('POST /v1/traces application/json'))).toBe(true);
    expect(collector.services).toContain('escalatr-under-test');
    const byId = new Map(collector.spans.map((s) => [s.spanId, s]));
    const request = collector.spans.find((s) => s.name === 'request' && attr(s, 'http.route') !== undefined)!;
    expect(request).toBeDefined();
    expect(request.kind).toBe(2); // SERVER
    expect(attr(request, 'http.route')).toBe('/api/consumer/v1/complaints');
    expect(attr(request, 'url.path')).toBe('/api/consumer/v1/complaints');
    expect(attr(request, 'http.response.status_code')).toBe(201);

    const events = collector.spans.filter((s) => s.name === SPAN.eventWritten);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event.traceId).toBe(request.traceId);
    // The event span is under the request span (through the handler's span).
    const ancestors: string[] = [];
    for (let s = byId.get(event.parentSpanId ?? ''); s; s = byId.get(s.parentSpanId ?? '')) ancestors.push(s.spanId);
    expect(ancestors).toContain(request.spanId);
    expect(attr(event, ATTR.companyId)).toBe(tenant.company.id);
    expect(attr(event, ATTR.eventName)).toBe('complaint.created');
    expect(attr(event, ATTR.deliveries)).toBe(1);

    const attempts = collector.spans.filter((s) => s.name === SPAN.deliveryAttempt);
    expect(attempts).toHaveLength(2);
    for (const a of attempts) {
      expect(a.traceId).toBe(request.traceId);
      expect(a.parentSpanId).toBe(event.spanId);
      expect(a.kind).toBe(3); // CLIENT
      expect(attr(a, ATTR.companyId)).toBe(tenant.company.id);
      expect(attr(a, ATTR.endpointId)).toBe(ep.id);
      expect(attr(a, ATTR.eventName)).toBe('complaint.created');
      expect(attr(a, ATTR.eventId)).toBe(attr(event, ATTR.eventId));
    }
    const [first, second] = [...attempts].sort((a, b) => Number(attr(a, ATTR.attempt)) - Number(attr(b, ATTR.attempt)));
    expect([attr(first, ATTR.attempt), attr(first, ATTR.statusCode), attr(first, ATTR.outcome)]).toEqual([
      1,
      503,
      'http_status',
    ]);
    expect(first.status?.code).toBe(2); // ERROR
    expect([attr(second, ATTR.attempt), attr(second, ATTR.statusCode), attr(second, ATTR.outcome)]).toEqual([
      2,
      200,
      'success',
    ]);

    // No span carries the complaint's text, the receiver's URL or the endpoint's secret.
    const everything = JSON.stringify(collector.spans);
    for (const secretOrBody of ['Stopped cooling', 'Fridge', rx.url, ep.secret, tenant.consumerToken])
      expect(everything).not.toContain(secretOrBody);
  });

  it('continues the trace a caller sends in traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await fileOven(t, tenant.consumerToken, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    await telemetry.forceFlush();
    const request = collector.spans.find((s) => s.name === 'request')!;
    expect(request.traceId).toBe(traceId);
    expect(request.parentSpanId).toBe('00f067aa0ba902b7');
    const event = collector.spans.find((s) => s.name === SPAN.eventWritten)!;
    expect(event.traceId).toBe(traceId);
    const row = await t.store.db
      .selectFrom('events')
      .select('traceparent')
      .where('id', '=', String(attr(event, ATTR.eventId)))
      .executeTakeFirstOrThrow();
    expect(row.traceparent).toBe(`00-${traceId}-${event.spanId}-01`);
  });
  it("follows a caller's decision not to sample: no spans, and the attempts stay unsampled too", async () => {
    await addEndpoint(t, tenant.company.id, rx.url);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    await fileOven(t, tenant.consumerToken, { traceparent: `00-${traceId}-b7ad6b7169203331-00` });
    expect(await w.worker.drain()).toBe(1);
    await telemetry.forceFlush();
    expect(collector.spans).toEqual([]);
    const rows = await t.store.db.selectFrom('events').select('traceparent').execute();
    expect(rows.map((r) => r.traceparent)).toEqual([
      expect.stringMatching(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`)),
    ]);
  });
});

describe('OpenTelemetry: the default protocol, OTLP/HTTP protobuf', () => {
  it('sends the request and event spans protobuf-encoded', async () => {
    const saved = Object.fromEntries(OTEL_VARS.map((name) => [name, process.env[name]]));
    const collector = await startCollector();
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
    for (const name of [
      'OTEL_TRACES_EXPORTER',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_SERVICE_NAME',
      'OTEL_SDK_DISABLED',
    ])
      delete process.env[name];
    const telemetry = (await startTelemetry(process.env))!;
    const t = await createTestApp({ tracing: telemetry });
    try {
      const tenant = await seedTenant(t);
      await fileOven(t, tenant.consumerToken);
      await telemetry.forceFlush();
      expect(collector.paths.length).toBeGreaterThan(0);
      expect(collector.paths.every((p) => p === 'POST /v1/traces application/x-protobuf')).toBe(true);
      // Protobuf strings travel as their UTF-8 bytes: the span names, the service and the company id are there.
      const bytes = Buffer.concat(collector.protobuf);
      for (const text of [SPAN.eventWritten, 'request', 'escalatr', tenant.company.id])
        expect(bytes.includes(Buffer.from(text))).toBe(true);
    } finally {
      await t.close();
      await telemetry.shutdown();
      await collector.close();
      for (const name of OTEL_VARS) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});

describe('OpenTelemetry: off unless asked', () => {
  it('reads the standard variables', () => {
    expect(tracesRequested({})).toBe(false);
    expect(tracesRequested({ OTEL_SERVICE_NAME: 'x' })).toBe(false);
    expect(tracesRequested({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracesRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(
      tracesRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }),
    ).toBe(false);
    expect(tracesRequested({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(() => tracesRequested({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
  });

  it('starts no SDK and stores no trace context when nothing asks for traces', async () => {
    expect(await startTelemetry({})).toBeNull();
    expect(tracingEnabled()).toBe(false);
    const t = await createTestApp();
    try {
      const tenant = await seedTenant(t);
      await fileOven(t, tenant.consumerToken);
      const rows = await t.store.db.selectFrom('events').select('traceparent').execute();
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.traceparent === null)).toBe(true);
    } finally {
      await t.close();
    }
  });
});
