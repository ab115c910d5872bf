import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { filterProblem, matchesFilter } from '../../src/domain/event-filter.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { testWorker } from '../helpers/webhooks.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';

/** The escalation guide's verification: HMAC-SHA256 of the raw body with the secret, compared in constant time. */
function guideVerifies(secret: string, rawBody: Buffer, signature: string | undefined): boolean {
  const expected = createHmac('sha256', secret).update(rawBody).digest('hex');
  return (
    !!signature &&
    signature.length === expected.length &&
    timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
  );
}

describe('event filters', () => {
  it('match on data with the documented operators', () => {
    const data = { escalation_level: 'L3', priority: 'high', amount: 500, record: { level: 'extreme' } };
    expect(matchesFilter({ escalation_level: { $gte: 'L3' }, priority: { $in: ['high', 'critical'] } }, data)).toBe(
      true,
    );
    expect(matchesFilter({ escalation_level: { $gt: 'L3' } }, data)).toBe(false);
    // Levels compare as levels, not as text: L10 does not exist, but L9 > L3 and L2 < L3.
    expect(matchesFilter({ escalation_level: { $lt: 'L9', $gt: 'L2' } }, data)).toBe(true);
    expect(matchesFilter({ amount: { $gte: 100, $lte: 500 } }, data)).toBe(true);
    expect(matchesFilter({ amount: { $gt: '100' } }, data)).toBe(false); // a number and a text do not order
    expect(matchesFilter({ 'record.level': 'extreme' }, data)).toBe(true);
    expect(matchesFilter({ missing: { $exists: false }, priority: { $nin: ['low'] } }, data)).toBe(true);
    expect(matchesFilter({ missing: { $ne: 'x' } }, data)).toBe(true);
    expect(matchesFilter({ missing: 'x' }, data)).toBe(false);
    expect(matchesFilter({ 'priority.length': 4 }, data)).toBe(false); // dotted paths read objects only
  });

  it('explain what is wrong with a bad filter', () => {
    expect(filterProblem({ priority: { $regex: '.*' } })).toMatch(/unknown operator \$regex/);
    expect(filterProblem({ priority: { $in: [] } })).toMatch(/\$in takes a list/);
    expect(filterProblem({ 'a b': 1 })).toMatch(/is not a field name/);
    expect(filterProblem({})).toMatch(/at least one field/);
    expect(filterProblem([])).toMatch(/object/);
    expect(filterProblem({ amount: { $gt: true } })).toMatch(/number or text/);
    expect(filterProblem({ escalation_level: { $gte: 'L3' } })).toBeNull();
  });
});

describe('endpoint filters and transformations on real deliveries', () => {
  let t: TestApp;
  let rx: Receiver;
  let w: RunningWorker;
  let volt: Awaited<ReturnType<typeof seedTenant>>;
  let acme: Awaited<ReturnType<typeof seedTenant>>;

  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(Date.parse('2026-06-01T09:00:00Z')) });
    volt = await seedTenant(t, { code: 'VOLT' });
    acme = await seedTenant(t, { code: 'ACME' });
    rx = await startReceiver();
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await rx.close();
    await t.close();
  });

  const api = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, key = volt.adminKey) =>
    t.app.http.inject({ method, url: `/api/v1${url}`, headers: bearer(key), ...(payload ? { payload } : {}) });

  async function endpoint(body: Record<string, unknown>) {
    const res = await api('POST', '/webhooks', { url: rx.url, events: ['*'], ...body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().data as { id: string; secret: string };
  }

  async function file(priority: string): Promise<string> {
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(volt.consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'Banking', title: 'Card', description: 'Blocked', priority },
    });
    expect(res.statusCode).toBe(201);
    return res.json().data.escalatr_id;
  }

  const deliveriesOf = (endpointId: string) =>
    t.store.db.selectFrom('deliveries').selectAll().where('endpoint_id', '=', endpointId).execute();

  /** An endpoint with this transformation, a complaint filed and the worker drained: its delivery's attempts. */
  async function attemptsWith(jsonata: string) {
    const ep = await endpoint({ events: ['complaint.created'], transform: { jsonata } });
    await file('medium');
    await w.worker.drain();
    const [delivery] = await deliveriesOf(ep.id);
    const attempts = await t.store.db
      .selectFrom('attempts')
      .selectAll()
      .where('delivery_id', '=', delivery.id)
      .execute();
    return { endpointId: ep.id, attempts };
  }

  it('a filtered-out event makes no delivery; a matching one does', async () => {
    const ep = await endpoint({
      events: ['complaint.created', 'complaint.escalated'],
      filter: { escalation_level: { $gte: 'L2' }, priority: { $in: ['high', 'critical'] } },
    });
    const low = await file('low');
    const high = await file('high');
    expect(await deliveriesOf(ep.id)).toHaveLength(0); // both are L1 when filed
    for (const id of [low, high]) {
      const res = await t.app.http.inject({
        method: 'POST',
        url: `/api/consumer/v1/complaints/${id}/escalate`,
        headers: bearer(volt.consumerToken),
      });
      expect(res.statusCode).toBe(200);
    }
    const made = await deliveriesOf(ep.id);
    expect(made).toHaveLength(1);
    expect(await w.worker.drain()).toBe(1);
    const body = JSON.parse(rx.requests[0].body.toString());
    expect(body).toMatchObject({ event: 'complaint.escalated', data: { escalatr_id: high, priority: 'high' } });

    const view = await api('GET', `/webhooks/${ep.id}`);
    expect(view.json().data.filter).toEqual({
      escalation_level: { $gte: 'L2' },
      priority: { $in: ['high', 'critical'] },
    });
    // Removing the filter: every subscribed event again.
    expect((await api('PATCH', `/webhooks/${ep.id}`, { filter: null })).json().data.filter).toBeNull();
    await file('low');
    expect(await deliveriesOf(ep.id)).toHaveLength(2);
  });

  it('refuses bad filters and transformations with a code, and changes nothing', async () => {
    const ep = await endpoint({});
    const cases: Array<[object, string]> = [
      [{ filter: { priority: { $regex: 'x' } } }, 'validation_failed'],
      [{ filter: { 'not a field': 'x' } }, 'invalid_filter'],
      [{ filter: { amount: { $gt: true } } }, 'validation_failed'],
      [{ filter: 'priority = high' }, 'validation_failed'],
      [{ transform: { jsonata: '{ "a": ' } }, 'invalid_transform'],
      [{ transform: { jsonata: 'x'.repeat(10_001) } }, 'validation_failed'],
      [{ transform: { preset: 'zapier' } }, 'validation_failed'],
      [{ transform: { preset: 'qlar', jsonata: 'x' } }, 'validation_failed'],
      // The preset covers four lifecycle events; the endpoint subscribes to everything.
      [{ transform: { preset: 'qlar' } }, 'invalid_transform'],
    ];
    for (const [patch, code] of cases) {
      const res = await api('PATCH', `/webhooks/${ep.id}`, patch);
      expect(res.statusCode, JSON.stringify(patch).slice(0, 80)).toBe(400);
      expect(res.json().error.code, JSON.stringify(patch).slice(0, 80)).toBe(code);
    }
    const after = (await api('GET', `/webhooks/${ep.id}`)).json().data;
    expect(after).toMatchObject({ filter: null, transform: null, events: ['*'] });
    // Widening the subscription of a qlar endpoint past the preset's events is refused as well.
    const qlar = await endpoint({ events: ['complaint.created'], transform: { preset: 'qlar' } });
    const widen = await api('PATCH', `/webhooks/${qlar.id}`, { events: ['*'] });
    expect(widen.json().error.code).toBe('invalid_transform');
  });

  it('the qlar preset sends the escalation guide’s lifecycle payload, signed over the bytes sent', async () => {
    const ep = await endpoint({
      events: ['complaint.created', 'complaint.claimed', 'complaint.released', 'complaint.completed'],
      transform: { preset: 'qlar' },
    });
    const id = await file('high');
    const staff = (step: string, payload?: object) => api('POST', `/complaints/${id}/${step}`, payload);
    expect((await staff('claim')).statusCode).toBe(200);
    expect((await staff('release')).statusCode).toBe(200);
    expect((await staff('claim')).statusCode).toBe(200);
    expect((await staff('complete', { resolution_notes: 'Card unblocked and fee refunded' })).statusCode).toBe(200);
    await w.worker.drain();
    const got = rx.requests
      .map((r) => ({ r, body: JSON.parse(r.body.toString()) }))
      .sort((a, b) => Date.parse(a.body.timestamp) - Date.parse(b.body.timestamp));
    expect(got.map((g) => g.body.eventType).sort()).toEqual(['claimed', 'claimed', 'completed', 'created', 'released']);
    for (const { r, body } of got) {
      expect(guideVerifies(ep.secret, r.body, r.headers['x-escalatr-signature'] as string)).toBe(true);
      expect(Object.keys(body)).toEqual(['eventType', 'timestamp', 'agentId', 'escalation']);
      expect(Object.keys(body.escalation)).toEqual([
        'id',
        'threadId',
        'status',
        'urgencyLevel',
        'topic',
        'area',
        'reason',
        'triggerCondition',
      ]);
      expect(body.escalation).toMatchObject({ id, threadId: id, urgencyLevel: 'high', topic: 'Banking' });
    }
    const completed = got.find((g) => g.body.eventType === 'completed')!.body;
    expect(completed.escalation.reason).toBe('Card unblocked and fee refunded');
    expect(typeof completed.agentId).toBe('string');
    expect(got.find((g) => g.body.eventType === 'created')!.body.agentId).toBeNull();
  });

  it('a JSONata transformation sends the same bytes on every attempt; failures are attempts with the reason', async () => {
    rx.setBehaviour((_req, n) => ({ status: n === 1 ? 500 : 200 }));
    const ep = await endpoint({
      events: ['complaint.created'],
      transform: { jsonata: '{"kind": event, "ref": data.escalatr_id, "at": $now(), "ms": $millis()}' },
    });
    const id = await file('medium');
    expect(await w.worker.drain()).toBe(1);
    t.clock.advance(60_000);
    expect(await w.worker.drain()).toBe(1);
    expect(rx.requests).toHaveLength(2);
    expect(rx.requests[1].body.equals(rx.requests[0].body)).toBe(true);
    const body = JSON.parse(rx.requests[0].body.toString());
    expect(body).toEqual({
      kind: 'complaint.created',
      ref: id,
      at: '2026-06-01T09:00:00.000Z',
      ms: Date.parse('2026-06-01T09:00:00Z'),
    });
    for (const r of rx.requests)
      expect(guideVerifies(ep.secret, r.body, r.headers['x-escalatr-signature'] as string)).toBe(true);

    await api('PATCH', `/webhooks/${ep.id}`, { enabled: false });
    // An expression that fails, and one that recurses forever: failed attempts with the reason, nothing sent.
    for (const jsonata of ['$error("no priority mapping")', '($f := function($x) { $f($x) + 1 }; $f(1))']) {
      const { endpointId, attempts } = await attemptsWith(jsonata);
      expect(attempts).toHaveLength(1);
      expect(attempts[0].error_kind).toBe('transform_failed');
      expect(attempts[0].error_message).toMatch(/^the endpoint's transformation failed: /);
      await api('PATCH', `/webhooks/${endpointId}`, { enabled: false });
    }
    expect(rx.requests).toHaveLength(2);
  });

  it('previews a transformation on a recent event without saving or sending anything', async () => {
    const empty = await api('POST', '/webhooks/preview-transform', { transform: { preset: 'qlar' } });
    expect(empty.statusCode).toBe(200);
    expect(empty.json().data).toMatchObject({ event_id: null, event: 'webhook.test', output: { eventType: 'test' } });

    const id = await file('critical');
    const res = await api('POST', '/webhooks/preview-transform', {
      transform: { jsonata: '{"who": data.escalatr_id, "urgent": data.priority = "critical"}' },
    });
    expect(res.statusCode).toBe(200);
    const preview = res.json().data;
    expect(preview).toMatchObject({ event: 'complaint.created', output: { who: id, urgent: true } });
    expect(preview.bytes).toBe(Buffer.byteLength(preview.body));
    expect(preview.input.data.escalatr_id).toBe(id);

    const failing = await api('POST', '/webhooks/preview-transform', { transform: { jsonata: '$error("nope")' } });
    expect(failing.statusCode).toBe(422);
    expect(failing.json().error.code).toBe('transform_failed');
    const broken = await api('POST', '/webhooks/preview-transform', { transform: { jsonata: '(' } });
    expect(broken.json().error.code).toBe('invalid_transform');
    // Another company's event is not found, exactly like a missing one.
    const other = await api(
      'POST',
      '/webhooks/preview-transform',
      { transform: { preset: 'qlar' }, event_id: preview.event_id },
      acme.adminKey,
    );
    expect(other.statusCode).toBe(404);
    expect(rx.requests).toHaveLength(0);
  });
  it('a transformation that never yields is stopped in a process of its own: other requests go on, and it fails with the limit', async () => {
    // A built-in call that runs for seconds (a 100-million-character $pad; a regular expression that backtracks
    // exponentially) cannot be stopped between JSONata's steps: it runs on a transformation thread, which is ended.
    await file('medium');
    const runaway = [
      '$length($pad("", 100000000))',
      '$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)',
      '$count($split($pad("", 30000000, "ab"), "b"))',
    ];
    for (const jsonata of runaway) {
      const order: string[] = [];
      const preview = api('POST', '/webhooks/preview-transform', { transform: { jsonata } }).then((r) => {
        order.push('preview');
        return r;
      });
      // Answered while the runaway evaluation is still running: the event loop is not the one busy.
      const list = await api('GET', '/complaints?limit=1');
      order.push('list');
      expect(list.statusCode).toBe(200);
      const r = await preview;
      expect(order, jsonata).toEqual(['list', 'preview']);
      expect(r.statusCode, jsonata).toBe(422);
      expect(r.json().error.code).toBe('transform_failed');
      expect(r.json().error.message, jsonata).toMatch(
        /ran longer than \d+ ms|its process ended \(more than \d+ MB of memory, or a crash\)/,
      );
    }
    // The process that was stopped is replaced: the next transformation runs.
    const ok = await api('POST', '/webhooks/preview-transform', { transform: { jsonata: '{"n": 1 + 1}' } });
    expect(ok.json().data.output).toEqual({ n: 2 });

    // Stored on an endpoint, the same expression is a failed attempt with the reason, and nothing is sent.
    const { attempts } = await attemptsWith(runaway[1]);
    expect(attempts.map((a) => [a.error_kind, a.error_message])).toEqual([
      ['transform_failed', expect.stringMatching(/^the endpoint's transformation failed: ran longer than \d+ ms/)],
    ]);
    expect(rx.requests).toHaveLength(0);
  });
});
