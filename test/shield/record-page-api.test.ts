import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { alertEventsOf } from '../../src/shield/record-alerts.js';
import { CUE_DESCRIPTIONS } from '../../src/shield/scoring/cue-descriptions.js';
import { CUE_ORDER } from '../../src/shield/scoring/cues.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { queryPlan } from '../helpers/query-plan.js';
import { bearer, createTestApp, OWNER_PASSWORD, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint } from '../helpers/webhooks.js';
import {
  CALM,
  createAutomationOk,
  EXTREME,
  postFeedback,
  processorFor,
  record,
  shieldWorker,
} from './shield-helpers.js';

/** The read routes behind the dashboard's feedback record page: the record, its thread and the alerts sent for it. */
describe('feedback record page API', () => {
  let t: TestApp;
  let rx: Receiver;
  let w: RunningWorker;
  let volt: Awaited<ReturnType<typeof seedTenant>>;
  let acme: Awaited<ReturnType<typeof seedTenant>>;

  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(Date.UTC(2026, 5, 27, 11, 59, 0)) });
    volt = await seedTenant(t, { code: 'VOLT' });
    acme = await seedTenant(t, { code: 'ACME' });
    rx = await startReceiver();
    w = await shieldWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await rx.close();
    await t.close();
  });

  const get = (key: string, url: string) => t.app.http.inject({ method: 'GET', url, headers: bearer(key) });
  const path = (id: string, rest = '') => `/api/v1/feedback/${encodeURIComponent(id)}${rest}`;

  async function ingest(key: string, records: unknown[]) {
    const res = await postFeedback(t, key, { records });
    expect(res.json().data.invalid).toEqual([]);
    await processorFor(t).tick();
  }

  it('shows a record with the signals that drove its levels', async () => {
    await ingest(volt.adminKey, [record('zd-1', EXTREME, { source_url: 'https://zd.example.com/tickets/1' })]);
    const res = await get(volt.readKey, path('zd-1'));
    expect(res.statusCode).toBe(200);
    const data = res.json().data;
    expect(data).toMatchObject({
      id: 'zd-1',
      source_url: 'https://zd.example.com/tickets/1',
      levels: { escalation_level: 'extreme', sentiment_shift: null },
    });
    // The model may put shouted, threat-laden text at high or extreme intensity; escalation is what must be extreme.
    expect(['high', 'extreme']).toContain(data.levels.emotional_intensity_level);
    expect(data.signals.map((s: { cue: string }) => s.cue)).toEqual(data.cues);
    expect(data.signals).toContainEqual({
      cue: 'legal_threat',
      group: 'threat',
      label: 'Legal threat',
      description: CUE_DESCRIPTIONS.legal_threat.description,
    });
    expect(data.signals).toContainEqual(expect.objectContaining({ cue: 'anger_words', group: 'emotion' }));
    // Every cue the scorer can report has words for people.
    for (const cue of CUE_ORDER) expect(CUE_DESCRIPTIONS[cue].label.length).toBeGreaterThan(0);
  });

  it("lists a record's thread in arrival order, this company's records only", async () => {
    await ingest(volt.adminKey, [
      record('t-1', CALM, { thread_id: 'th-1' }),
      record('t-2', 'Still waiting on my refund, this is getting frustrating.', { thread_id: 'th-1' }),
      record('other', CALM, { thread_id: 'th-2' }),
    ]);
    t.clock.advance(1000);
    await ingest(volt.adminKey, [record('t-3', EXTREME, { thread_id: 'th-1' })]);
    // Another company's records with the same thread id are another thread.
    await ingest(acme.adminKey, [record('t-9', EXTREME, { thread_id: 'th-1' })]);

    const res = await get(volt.readKey, path('t-3', '/thread'));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ success: true, page: 1, limit: 25, total: 3 });
    expect(body.data.map((r: { id: string }) => r.id)).toEqual(['t-1', 't-2', 't-3']);
    expect(body.data[2].levels.sentiment_shift).toBe('sentiment degraded');

    const paged = (await get(volt.readKey, path('t-1', '/thread?page=2&limit=2'))).json();
    expect(paged).toMatchObject({ page: 2, limit: 2, total: 3 });
    expect(paged.data.map((r: { id: string }) => r.id)).toEqual(['t-3']);

    await ingest(volt.adminKey, [record('alone', CALM)]);
    const alone = (await get(volt.readKey, path('alone', '/thread'))).json();
    expect(alone).toMatchObject({ total: 1 });
    expect(alone.data.map((r: { id: string }) => r.id)).toEqual(['alone']);
  });

  it('lists the alerts sent for a record with the state of every delivery', async () => {
    rx.setBehaviour((req) =>
      req.url.includes('dest=broken') ? { status: 502, body: 'bad gateway' } : { status: 200, body: 'ok' },
    );
    const endpoint = await addEndpoint(t, volt.company.id, `${rx.url}?endpoint=1`, { events: ['shield.alert'] });
    const automation = await createAutomationOk(t, volt.adminKey, {
      name: 'Legal threats',
      destinations: [
        { type: 'webhook', url: `${rx.url}?dest=ok`, auth: { type: 'bearer', token: 'never-shown-123' } },
        { type: 'webhook', url: `${rx.url}?dest=broken` },
      ],
    });
    await ingest(volt.adminKey, [record('zd-7', EXTREME), record('calm', CALM)]);
    expect(await w.worker.drain()).toBe(3);

    const res = await get(volt.readKey, path('zd-7', '/alerts'));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(res.body).not.toContain('never-shown-123');
    expect(body).toMatchObject({ success: true, page: 1, limit: 25, total: 1 });
    const [alert] = body.data;
    const event = await t.store.db
      .selectFrom('events')
      .select('id')
      .where('name', '=', 'shield.alert')
      .executeTakeFirstOrThrow();
    expect(alert).toMatchObject({
      event_id: event.id,
      automation_id: automation.id,
      automation_name: 'Legal threats',
      escalated_at: new Date(t.clock.now()).toISOString(),
      levels: { escalation_level: 'extreme', sentiment_shift: null },
    });
    expect(['high', 'extreme']).toContain(alert.levels.emotional_intensity_level);
    const byKind = Object.fromEntries(
      alert.deliveries.map((d: { endpoint_id: string | null; destination: { url: string } | null }) => [
        d.endpoint_id ? 'endpoint' : new URL(d.destination!.url).searchParams.get('dest'),
        d,
      ]),
    );
    expect(byKind.endpoint).toMatchObject({
      target: 'endpoint',
      endpoint_id: endpoint.id,
      destination: null,
      status: 'success',
      attempt_count: 1,
      last_status_code: 200,
    });
    expect(byKind.ok).toMatchObject({
      target: 'webhook',
      destination_id: automation.destinations[0].id,
      destination: { type: 'webhook', url: `${rx.url}?dest=ok` },
      status: 'success',
      attempt_count: 1,
      last_status_code: 200,
      next_attempt_at: null,
    });
    expect(byKind.broken).toMatchObject({
      status: 'failed',
      attempt_count: 1,
      last_status_code: 502,
      next_attempt_at: new Date(t.clock.now() + 60_000).toISOString(),
    });
    // Each delivery id opens the delivery with its attempts.
    const detail = await get(volt.adminKey, `/api/v1/deliveries/${byKind.broken.id}`);
    expect(detail.json().data.attempts[0].status_code).toBe(502);

    // A record no automation matched has no alerts.
    expect((await get(volt.readKey, path('calm', '/alerts'))).json()).toMatchObject({ total: 0, data: [] });

    // After the automation is deleted its alerts stay, without the name and destinations it no longer has.
    expect(
      (
        await t.app.http.inject({
          method: 'DELETE',
          url: `/api/v1/automations/${automation.id}`,
          headers: bearer(volt.adminKey),
        })
      ).statusCode,
    ).toBe(200);
    const after = (await get(volt.readKey, path('zd-7', '/alerts'))).json().data[0];
    expect(after.automation_name).toBeNull();
    expect(after.deliveries).toHaveLength(3);
    expect(after.deliveries.every((d: { destination: unknown }) => d.destination === null)).toBe(true);
  });

  it("answers another company's record exactly like a missing one, and never mixes two companies' records", async () => {
    await createAutomationOk(t, volt.adminKey, { destinations: [{ type: 'webhook', url: rx.url }] });
    await ingest(volt.adminKey, [record('secret-1', EXTREME, { thread_id: 'th-x' })]);
    for (const rest of ['', '/thread', '/alerts']) {
      const foreign = await get(acme.adminKey, path('secret-1', rest));
      const missing = await get(acme.adminKey, path('no-such-record', rest));
      expect(foreign.statusCode, rest).toBe(404);
      expect(foreign.json(), rest).toEqual({
        success: false,
        error: { code: 'not_found', message: 'feedback record not found' },
      });
      expect(foreign.json()).toEqual(missing.json());
    }
    // The same record id at another company is that company's own record, with none of the first one's alerts.
    await ingest(acme.adminKey, [record('secret-1', CALM)]);
    expect((await get(acme.adminKey, path('secret-1', '/alerts'))).json()).toMatchObject({ total: 0, data: [] });
    expect((await get(acme.adminKey, path('secret-1', '/thread'))).json().data[0].content).toBe(CALM);
    expect((await get(volt.adminKey, path('secret-1', '/alerts'))).json().total).toBe(1);
  });

  it('takes any id a record may have, refuses bad paging with a clear 400 and callers without a key with 401', async () => {
    const longest = `${'é'.repeat(199)}/`;
    await ingest(volt.adminKey, [record('a/b c?', EXTREME), record(longest, CALM)]);
    // Any characters a source uses in its ids survive the URL, encoded, up to the longest id a record may have.
    expect((await get(volt.readKey, path('a/b c?'))).json().data.id).toBe('a/b c?');
    expect((await get(volt.readKey, path(longest, '/alerts'))).statusCode).toBe(200);
    expect((await get(volt.readKey, path(longest))).json().data.id).toBe(longest);
    expect((await get(volt.readKey, path('a/b c?', '/thread'))).statusCode).toBe(200);
    expect((await get(volt.readKey, path('a/b c?', '/alerts'))).statusCode).toBe(200);

    // An id no record can have (over 200 characters) is not found, as every malformed id in the API is.
    for (const rest of ['', '/thread', '/alerts']) {
      const res = await get(volt.readKey, path('x'.repeat(201), rest));
      expect(res.statusCode, rest).toBe(404);
      expect(res.json().error.code, rest).toBe('not_found');
    }
    for (const url of [
      path('a/b c?', '/alerts?page=0'),
      path('a/b c?', '/alerts?limit=101'),
      path('a/b c?', '/thread?limit=abc'),
      path('a/b c?', '/thread?colour=blue'),
    ]) {
      const res = await get(volt.readKey, url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code, url).toMatch(/^invalid_/);
    }
    const anonymous = await t.app.http.inject({ method: 'GET', url: path('a/b c?', '/alerts') });
    expect(anonymous.statusCode).toBe(401);
  });

  it('answers a dashboard session, on any plan', async () => {
    const tiny = await seedTenant(t, { code: 'TINY', plan: 'starter' });
    const login = await t.app.http.inject({
      method: 'POST',
      url: '/api/session/login',
      payload: { email: 'owner@tiny.test', password: OWNER_PASSWORD },
    });
    const cookie = login.cookies.find((c) => c.name === 'escalatr_session')!;
    await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/feedback',
      headers: { cookie: `escalatr_session=${cookie.value}`, 'x-csrf-token': login.json().data.csrf_token },
      payload: record('tiny-1', EXTREME),
    });
    await processorFor(t).tick();
    for (const rest of ['', '/thread', '/alerts']) {
      const res = await t.app.http.inject({
        method: 'GET',
        url: path('tiny-1', rest),
        headers: { cookie: `escalatr_session=${cookie.value}` },
      });
      expect(res.statusCode, rest).toBe(200);
    }
    expect(tiny.company.plan).toBe('starter');
  });

  it("finds a record's alerts through the partial index, not by reading every alert", async () => {
    const query = alertEventsOf(t.store, volt.company.id, 'zd-1').select('e.id').compile();
    expect((await queryPlan(t.store, query)).join('\n')).toContain('events_shield_alert_record');
  });
});
