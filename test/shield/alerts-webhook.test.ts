import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { TestApp } from '../helpers/harness.js';
import type { Receiver } from '../helpers/receiver.js';
import { addEndpoint } from '../helpers/webhooks.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import {
  createAutomationOk,
  EXTREME,
  postFeedback,
  processorFor,
  record,
  startShieldScene,
  stopShieldScene,
  type ShieldTenant,
} from './shield-helpers.js';

describe('shield alerts to webhook destinations', () => {
  let t: TestApp, rx: Receiver, w: RunningWorker, tenant: ShieldTenant;

  beforeEach(async () => {
    // Endpoint deliveries carry Standard Webhooks timestamps; real time keeps them plausible.
    ({ t, tenant, rx, w } = await startShieldScene({ clock: new ManualClock(Date.UTC(2026, 5, 27, 11, 59, 0)) }));
  });
  afterEach(async () => stopShieldScene({ t, rx, w }));

  it('POSTs the seed payload with the seed headers and each auth option', async () => {
    const auths = [
      { type: 'none' },
      { type: 'bearer', token: 'bearer-token-123' },
      { type: 'api_key', token: 'api-key-456' },
      { type: 'custom_header', token: 'custom-789', header_name: 'X-Router-Auth' },
    ];
    const automation = await createAutomationOk(t, tenant.adminKey, {
      filter: { min_level: 'high' },
      destinations: auths.map((auth, i) => ({ type: 'webhook', url: `${rx.url}?n=${i}`, auth })),
    });
    const content = `${EXTREME} ${'More details follow. '.repeat(40)}`;
    const ingest = await postFeedback(
      t,
      tenant.adminKey,
      record('12345', content, {
        source_url: 'https://support.example.com/tickets/12345',
        created_at: '2026-06-27T11:58:00Z',
        thread_id: 'th-9',
      }),
    );
    expect(ingest.statusCode).toBe(202);

    const pass = await processorFor(t).tick();
    expect(pass).toEqual({ scored: 1, alerts: 1 });

    const events = await t.store.db.selectFrom('events').selectAll().where('name', '=', 'shield.alert').execute();
    expect(events).toHaveLength(1);
    const event = JSON.parse(events[0].body);
    expect(event).toMatchObject({ id: events[0].id, event: 'shield.alert' });
    const expected = {
      automation_id: automation.id,
      org_id: 'VOLT',
      escalated_at: new Date(t.clock.now()).toISOString(),
      levels: {
        escalation_level: 'extreme',
        emotional_intensity_level: event.data.levels.emotional_intensity_level,
        sentiment_shift: null,
      },
      record: {
        id: '12345',
        url: 'http://localhost:3000/shield/feedback/12345',
        source_url: 'https://support.example.com/tickets/12345',
        content_excerpt: expect.any(String),
        created_at: '2026-06-27T11:58:00.000Z',
        source: 'ZendeskSupport',
      },
      // the explanation is added beside the receiver's fields, which keep their shape
      explanation: { sensitivity: 'balanced', escalation_level: 'extreme', signals: expect.any(Array) },
    };
    expect(['high', 'extreme']).toContain(event.data.levels.emotional_intensity_level);
    expect(event.data).toEqual(expected);
    const signals = event.data.explanation.signals as {
      signal: string;
      span: { start: number; end: number; text: string } | null;
      weight: number;
    }[];
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.some((s) => s.weight > 0)).toBe(true);
    for (const s of signals) {
      if (s.span) expect(content.slice(s.span.start, s.span.end)).toBe(s.span.text);
    }
    expect(signals.map((s) => s.span?.text.toLowerCase() ?? '').join(' ')).toMatch(
      /sue|lawyer|court|chargeback|cancel/,
    );
    expect(Array.from(event.data.record.content_excerpt as string).length).toBeLessThanOrEqual(500);
    expect(event.data.record.content_excerpt.startsWith('This is UNACCEPTABLE!!!')).toBe(true);
    expect(event.data.record.content_excerpt.endsWith('…')).toBe(true);

    const deliveries = await t.store.db.selectFrom('deliveries').selectAll().orderBy('idempotency_key').execute();
    expect(deliveries).toHaveLength(4);
    for (const d of deliveries) {
      expect(d.target).toBe('webhook');
      expect(d.idempotency_key).toBe(`${automation.id}:${d.destination_id}:12345`);
    }

    expect(await w.worker.drain()).toBe(4);
    expect(rx.requests).toHaveLength(4);
    const byN = Object.fromEntries(rx.requests.map((r) => [new URL(r.url, 'http://x').searchParams.get('n'), r]));
    for (const [i, dest] of automation.destinations.entries()) {
      const r = byN[String(i)];
      expect(r.method).toBe('POST');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['user-agent']).toBe('SupportEscalationAutomation/1.0');
      expect(r.headers['idempotency-key']).toBe(`${automation.id}:${dest.id}:12345`);
      expect(r.body.toString()).toBe(JSON.stringify(event.data));
      expect(JSON.parse(r.body.toString())).toEqual(expected);
    }
    expect(byN['0'].headers.authorization).toBeUndefined();
    expect(byN['0'].headers['x-api-key']).toBeUndefined();
    expect(byN['1'].headers.authorization).toBe('Bearer bearer-token-123');
    expect(byN['2'].headers['x-api-key']).toBe('api-key-456');
    expect(byN['2'].headers.authorization).toBeUndefined();
    expect(byN['3'].headers['x-router-auth']).toBe('custom-789');
    const states = await t.store.db.selectFrom('deliveries').select('status').execute();
    expect(states.every((s) => s.status === 'success')).toBe(true);
  });

  it('retries with the same body bytes and Idempotency-Key', async () => {
    rx.setBehaviour((_req, n) => (n === 1 ? { status: 503, body: 'busy' } : { status: 200 }));
    await createAutomationOk(t, tenant.adminKey, {
      destinations: [{ type: 'webhook', url: rx.url, auth: { type: 'bearer', token: 'tok-abcdef' } }],
    });
    await postFeedback(t, tenant.adminKey, record('r-1', EXTREME));
    await processorFor(t).tick();
    expect(await w.worker.drain()).toBe(1);
    const failed = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    expect(failed.status).toBe('failed');
    t.clock.advance(60_000);
    expect(await w.worker.drain()).toBe(1);
    expect(rx.requests).toHaveLength(2);
    expect(rx.requests[1].body.equals(rx.requests[0].body)).toBe(true);
    expect(rx.requests[1].headers['idempotency-key']).toBe(rx.requests[0].headers['idempotency-key']);
    const attempts = await t.store.db.selectFrom('attempts').select(['n', 'status_code']).orderBy('n').execute();
    expect(attempts).toEqual([
      { n: 1, status_code: 503 },
      { n: 2, status_code: 200 },
    ]);
  });

  it('puts the alert in the event feed and on subscribed company endpoints too', async () => {
    const endpoint = await addEndpoint(t, tenant.company.id, `${rx.url}?endpoint=1`, { events: ['shield.alert'] });
    const unsubscribed = await addEndpoint(t, tenant.company.id, `${rx.url}?endpoint=2`, {
      events: ['complaint.created'],
    });
    await createAutomationOk(t, tenant.adminKey, { destinations: [{ type: 'webhook', url: `${rx.url}?dest=1` }] });
    await postFeedback(t, tenant.adminKey, record('r-2', EXTREME));
    await processorFor(t).tick();
    const deliveries = await t.store.db.selectFrom('deliveries').select(['target', 'endpoint_id']).execute();
    expect(deliveries.map((d) => d.target).sort()).toEqual(['endpoint', 'webhook']);
    expect(deliveries.find((d) => d.target === 'endpoint')!.endpoint_id).toBe(endpoint.id);
    expect(deliveries.some((d) => d.endpoint_id === unsubscribed.id)).toBe(false);
    expect(await w.worker.drain()).toBe(2);
    const atEndpoint = rx.requests.find((r) => r.url.includes('endpoint=1'))!;
    const envelope = JSON.parse(atEndpoint.body.toString());
    expect(envelope.event).toBe('shield.alert');
    expect(envelope.data.record.id).toBe('r-2');
    expect(atEndpoint.headers['x-escalatr-event']).toBe('shield.alert');
    const atDestination = rx.requests.find((r) => r.url.includes('dest=1'))!;
    expect(JSON.parse(atDestination.body.toString())).toEqual(envelope.data);
  });

  it('ends deliveries to a destination removed before sending, without an attempt', async () => {
    const a = await createAutomationOk(t, tenant.adminKey, { destinations: [{ type: 'webhook', url: rx.url }] });
    await postFeedback(t, tenant.adminKey, record('r-3', EXTREME));
    await processorFor(t).tick();
    await t.app.http.inject({
      method: 'DELETE',
      url: `/api/v1/automations/${a.id}`,
      headers: { authorization: `Bearer ${tenant.adminKey}` },
    });
    await w.worker.drain();
    expect(rx.requests).toHaveLength(0);
    const d = await t.store.db.selectFrom('deliveries').select(['status', 'attempt_count']).executeTakeFirstOrThrow();
    expect(d).toEqual({ status: 'dead', attempt_count: 0 });
  });
});
