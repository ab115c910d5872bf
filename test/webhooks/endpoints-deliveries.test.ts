import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEndpoint, fileComplaint, recordAttempt, setupWebhooks } from './endpoints-helpers.js';

type Setup = Awaited<ReturnType<typeof setupWebhooks>>;

const HOUR = 3_600_000;

describe('test send, deliveries, resend and recover', () => {
  let s: Setup;
  let wakes: number;
  beforeEach(async () => {
    s = await setupWebhooks();
    wakes = 0;
    // The wake-ups this process's commits signal (PostgreSQL's NOTIFY to other processes is tested apart).
    vi.spyOn(s.t.app.ctx.wakeups, 'signal').mockImplementation((channel) => {
      if (channel === 'deliveries') wakes++;
    });
  });
  afterEach(async () => s.t.close());

  const deliveryRow = (id: string) =>
    s.t.store.db.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const eventStatus = async (deliveryId: string) => {
    const d = await deliveryRow(deliveryId);
    return (
      await s.t.store.db
        .selectFrom('events')
        .select('delivery_status')
        .where('id', '=', d.event_id)
        .executeTakeFirstOrThrow()
    ).delivery_status;
  };

  it('Test creates exactly one webhook.test delivery, to that endpoint only', async () => {
    const target = await createEndpoint(s.api, { events: ['complaint.created'] });
    await createEndpoint(s.api, { events: ['*'] });
    await createEndpoint(s.api, { events: ['webhook.test'] });
    await createEndpoint(s.acmeApi, { events: ['*'] });

    const res = await s.api.post(`/webhooks/${target.id}/test`, { message: 'ping from the dashboard' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      event: 'webhook.test',
      endpoint_id: target.id,
      status: 'pending',
      attempt_count: 0,
      target: 'endpoint',
    });
    expect(res.body.data.next_attempt_at).toBe(new Date(s.t.clock.now()).toISOString());
    expect(wakes).toBe(1);

    const events = await s.t.store.db.selectFrom('events').selectAll().execute();
    expect(events).toHaveLength(1);
    // The base fields of every complaint event, with sample values, so a receiver routes it like any other.
    const sent = JSON.parse(events[0].body);
    expect(sent).toMatchObject({ event: 'webhook.test' });
    expect(sent.data).toEqual({
      escalatr_id: expect.stringMatching(/^ESC-VOLT-\d{6}-00000$/),
      status: 'Open',
      escalation_level: 'L1',
      complaint_category: 'Sample',
      priority: 'medium',
      sample: true,
      message: 'ping from the dashboard',
      endpoint_id: target.id,
    });
    expect(events[0].complaint_id).toBeNull();
    expect(events[0].company_id).toBe(s.volt.company.id);
    const rows = await s.t.store.db.selectFrom('deliveries').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      id: res.body.data.id,
      endpoint_id: target.id,
      event_id: events[0].id,
      idempotency_key: `${events[0].id}:${target.id}`,
    });
  });

  it('a number of attempts is attempt_count in every answer; attempts is only ever the list of attempts', async () => {
    const ep = await createEndpoint(s.api, { events: ['*'] });
    const sent = await s.api.post(`/webhooks/${ep.id}/test`, { message: 'm' });
    await recordAttempt(s.t, sent.body.data.id, 'failed');
    const answers: Array<[string, Record<string, unknown>]> = [
      ['test reply', sent.body.data],
      ['endpoint deliveries', (await s.api.get(`/webhooks/${ep.id}/deliveries`)).body.data[0]],
      ['all deliveries', (await s.api.get('/deliveries')).body.data[0]],
      ['event feed', (await s.api.get('/events')).body.data[0].deliveries[0]],
      ['resend reply', (await s.api.post(`/deliveries/${sent.body.data.id}/resend`)).body.data],
    ];
    for (const [where, answer] of answers) {
      expect(typeof answer.attempt_count, where).toBe('number');
      expect(answer, where).not.toHaveProperty('attempts');
    }
    expect(answers.map(([, a]) => a.attempt_count)).toEqual([0, 1, 1, 1, 1]);
    const detail = (await s.api.get(`/deliveries/${sent.body.data.id}`)).body.data;
    expect(detail.attempt_count).toBe(1);
    expect(detail.attempts.map((a: { n: number }) => a.n)).toEqual([1]);
  });

  it('Test uses a default message, and a disabled endpoint answers 409 without writing', async () => {
    const ep = await createEndpoint(s.api);
    const res = await s.api.post(`/webhooks/${ep.id}/test`);
    const body = await s.t.store.db.selectFrom('events').select('body').executeTakeFirstOrThrow();
    expect(res.status).toBe(201);
    expect(JSON.parse(body.body).data.message).toMatch(/test event/);

    await s.api.patch(`/webhooks/${ep.id}`, { enabled: false });
    const refused = await s.api.post(`/webhooks/${ep.id}/test`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('conflict');
    expect(await s.t.store.db.selectFrom('events').select('id').execute()).toHaveLength(1);
    expect(await s.t.store.db.selectFrom('deliveries').select('id').execute()).toHaveLength(1);
  });

  it("lists an endpoint's deliveries newest first, with filters and pagination", async () => {
    const ep = await createEndpoint(s.api);
    const other = await createEndpoint(s.api);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      await fileComplaint(s.t, s.volt.consumerToken);
      s.t.clock.advance(1000);
    }
    ids.push(
      ...(
        await s.t.store.db
          .selectFrom('deliveries')
          .select('id')
          .where('endpoint_id', '=', ep.id)
          .orderBy('created_at')
          .execute()
      ).map((r) => r.id),
    );
    const testId = (await s.api.post(`/webhooks/${ep.id}/test`, {})).body.data.id;
    await recordAttempt(s.t, ids[0], 'success');
    await recordAttempt(s.t, ids[1], 'failed', { statusCode: 503 });

    const all = await s.api.get(`/webhooks/${ep.id}/deliveries`);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ success: true, page: 1, limit: 25, total: 4 });
    expect(all.body.data.map((d: { id: string }) => d.id)).toEqual([testId, ids[2], ids[1], ids[0]]);
    const failed = all.body.data.find((d: { id: string }) => d.id === ids[1]);
    expect(failed).toMatchObject({
      event: 'complaint.created',
      status: 'failed',
      attempt_count: 1,
      last_status_code: 503,
      last_error: 'HTTP 503',
    });
    expect(Object.keys(failed)).toEqual(
      expect.arrayContaining([
        'id',
        'event_id',
        'event',
        'status',
        'attempt_count',
        'next_attempt_at',
        'last_status_code',
        'last_error',
        'created_at',
        'updated_at',
      ]),
    );
    expect(failed.next_attempt_at).not.toBeNull();
    expect(all.body.data.find((d: { id: string }) => d.id === ids[0]).next_attempt_at).toBeNull();

    const byStatus = await s.api.get(`/webhooks/${ep.id}/deliveries?status=pending`);
    expect(byStatus.body.data.map((d: { id: string }) => d.id)).toEqual([testId, ids[2]]);
    expect(byStatus.body.total).toBe(2);
    const byEvent = await s.api.get(`/webhooks/${ep.id}/deliveries?event=webhook.test`);
    expect(byEvent.body.data.map((d: { id: string }) => d.id)).toEqual([testId]);
    expect(byEvent.body.total).toBe(1);
    const page2 = await s.api.get(`/webhooks/${ep.id}/deliveries?limit=3&page=2`);
    expect(page2.body).toMatchObject({ page: 2, limit: 3, total: 4 });
    expect(page2.body.data.map((d: { id: string }) => d.id)).toEqual([ids[0]]);
    expect((await s.api.get(`/webhooks/${ep.id}/deliveries?page=9`)).body.data).toEqual([]);

    // Across endpoints: the other endpoint's three deliveries too, and its filter.
    const everything = await s.api.get('/deliveries?limit=100');
    expect(everything.body.total).toBe(7);
    const onlyOther = await s.api.get(`/deliveries?endpoint_id=${other.id}`);
    expect(onlyOther.body.total).toBe(3);
    expect(onlyOther.body.data.every((d: { endpoint_id: string }) => d.endpoint_id === other.id)).toBe(true);
    const since = new Date(s.t.clock.now() - 1500).toISOString();
    const recent = await s.api.get(`/deliveries?since=${encodeURIComponent(since)}`);
    expect(recent.body.data.map((d: { created_at: string }) => d.created_at).every((c: string) => c >= since)).toBe(
      true,
    );
    expect(recent.body.total).toBe(3); // the third complaint to both endpoints, and the test
    const combo = await s.api.get(`/deliveries?status=success&event=complaint.created&endpoint_id=${ep.id}`);
    expect(combo.body.data.map((d: { id: string }) => d.id)).toEqual([ids[0]]);
    expect(combo.body.total).toBe(1);
  });

  it('pages deliveries made at the same instant in one order, none repeated or skipped, filtered or not', async () => {
    await createEndpoint(s.api, { events: ['*'] });
    await createEndpoint(s.api, { events: ['complaint.created'] });
    for (let i = 0; i < 5; i++) await fileComplaint(s.t, s.volt.consumerToken);
    const all = (await s.api.get('/deliveries?limit=100')).body.data as Array<{ id: string; created_at: string }>;
    expect(all).toHaveLength(10);
    expect(new Set(all.map((d) => d.created_at)).size).toBe(1);
    expect(all.map((d) => d.id)).toEqual(
      all
        .map((d) => d.id)
        .sort()
        .reverse(),
    );
    for (const query of ['', '&event=complaint.created', '&status=pending']) {
      const paged: string[] = [];
      for (let page = 1; page <= 4; page++) {
        const res = await s.api.get(`/deliveries?limit=3&page=${page}${query}`);
        expect(res.body.total, query).toBe(10);
        paged.push(...res.body.data.map((d: { id: string }) => d.id));
      }
      expect(paged, query).toEqual(all.map((d) => d.id));
    }
    expect((await s.api.get('/deliveries?limit=3&page=5')).body).toMatchObject({ data: [], total: 10 });
  });

  it('shows one delivery with every attempt and its payload', async () => {
    const ep = await createEndpoint(s.api);
    const id = (await s.api.post(`/webhooks/${ep.id}/test`, { message: 'm' })).body.data.id;
    await recordAttempt(s.t, id, 'failed', { statusCode: null, errorKind: 'timeout' });
    s.t.clock.advance(60_000);
    await recordAttempt(s.t, id, 'success');
    const res = await s.api.get(`/deliveries/${id}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id,
      status: 'success',
      attempt_count: 2,
      event: 'webhook.test',
      payload: { event: 'webhook.test', data: { message: 'm' } },
    });
    expect(res.body.data.attempts).toEqual([
      {
        n: 1,
        started_at: new Date(s.t.clock.now() - 60_000).toISOString(),
        duration_ms: 12,
        status_code: null,
        error_kind: 'timeout',
        error_message: 'HTTP null',
        response_excerpt: 'boom',
      },
      {
        n: 2,
        started_at: new Date(s.t.clock.now()).toISOString(),
        duration_ms: 12,
        status_code: 200,
        error_kind: null,
        error_message: null,
        response_excerpt: 'ok',
      },
    ]);
  });

  it("finds and resends a delivery by id whether or not its id's time is near its created_at, and only the company's own", async () => {
    // A delivery's id carries the real time it was made; the reads look near that time first (on PostgreSQL they
    // name the history's spans), then everywhere. Ids made at the store's time and a year away must both be found.
    const ep = await createEndpoint(s.api);
    const made: Array<{ id: string; message: string }> = [];
    try {
      for (const offset of [0, 400 * 24 * HOUR, -400 * 24 * HOUR]) {
        vi.useFakeTimers({ now: s.t.clock.now() + offset, toFake: ['Date'] });
        const message = `made ${offset} ms from the store's time`;
        made.push({ id: (await s.api.post(`/webhooks/${ep.id}/test`, { message })).body.data.id, message });
        vi.useRealTimers();
      }
    } finally {
      vi.useRealTimers();
    }
    for (const { id, message } of made) {
      await recordAttempt(s.t, id, 'success');
      const res = await s.api.get(`/deliveries/${id}`);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ id, created_at: new Date(s.t.clock.now()).toISOString() });
      expect(res.body.data.payload.data.message).toBe(message);
      expect(res.body.data.attempts.map((a: { n: number; status_code: number }) => [a.n, a.status_code])).toEqual([
        [1, 200],
      ]);
      expect((await s.acmeApi.get(`/deliveries/${id}`)).status).toBe(404);
      expect((await s.acmeApi.post(`/deliveries/${id}/resend`)).status).toBe(404);
      const resent = await s.api.post(`/deliveries/${id}/resend`);
      expect(resent.status).toBe(200);
      expect(resent.body.data).toMatchObject({ id, status: 'pending', attempt_count: 1 });
    }
  });

  it('resend starts a new attempt sequence on the same delivery; refused while pending', async () => {
    const ep = await createEndpoint(s.api);
    const id = (await s.api.post(`/webhooks/${ep.id}/test`, {})).body.data.id;
    wakes = 0;
    const pending = await s.api.post(`/deliveries/${id}/resend`);
    expect(pending.status).toBe(409);
    expect(pending.body.error.code).toBe('conflict');

    for (let i = 0; i < 6; i++) await recordAttempt(s.t, id, i < 5 ? 'failed' : 'dead');
    const before = await deliveryRow(id);
    expect(before).toMatchObject({ status: 'dead', attempt_count: 6 });
    expect(await eventStatus(id)).toBe('dead');
    s.t.clock.advance(HOUR);

    const res = await s.api.post(`/deliveries/${id}/resend`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id,
      status: 'pending',
      attempt_count: 6,
      next_attempt_at: new Date(s.t.clock.now()).toISOString(),
    });
    const after = await deliveryRow(id);
    expect(after).toMatchObject({
      status: 'pending',
      attempt_count: 6,
      next_attempt_at: s.t.clock.now(),
      lease_until: null,
      idempotency_key: before.idempotency_key,
      event_id: before.event_id,
    });
    expect(await eventStatus(id)).toBe('pending');
    expect(wakes).toBe(1);
    expect(await s.t.store.db.selectFrom('deliveries').select('id').execute()).toHaveLength(1);

    // Pending again, so a second press is refused; the next attempt continues the numbering.
    expect((await s.api.post(`/deliveries/${id}/resend`)).status).toBe(409);
    await recordAttempt(s.t, id, 'success');
    expect((await s.api.get(`/deliveries/${id}`)).body.data.attempts.map((a: { n: number }) => a.n)).toEqual([
      1, 2, 3, 4, 5, 6, 7,
    ]);
    expect((await s.api.post(`/deliveries/${id}/resend`)).body.data.status).toBe('pending');
  });

  it("resend is refused for a delivery older than the company's retention window, and changes nothing", async () => {
    const ep = await createEndpoint(s.api);
    const id = (await s.api.post(`/webhooks/${ep.id}/test`, {})).body.data.id;
    await recordAttempt(s.t, id, 'success');
    await s.t.store.db.updateTable('companies').set({ retention_days: 7 }).execute();
    s.t.clock.advance(7 * 24 * HOUR - 60_000);
    const before = await deliveryRow(id);
    // A minute before the window's edge it is still the company's to send again; a minute after, it is not.
    s.t.clock.advance(2 * 60_000);
    const late = await s.api.post(`/deliveries/${id}/resend`);
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'conflict', message: expect.stringContaining('retention window') });
    expect(await deliveryRow(id)).toEqual(before);
    s.t.clock.advance(-2 * 60_000);
    expect((await s.api.post(`/deliveries/${id}/resend`)).body.data.status).toBe('pending');
  });

  it('resend is refused while a worker holds the lease, and for a disabled or deleted endpoint', async () => {
    const ep = await createEndpoint(s.api);
    const id = (await s.api.post(`/webhooks/${ep.id}/test`, {})).body.data.id;
    await recordAttempt(s.t, id, 'failed');
    await s.t.store.db
      .updateTable('deliveries')
      .set({ lease_until: s.t.clock.now() + 30_000, lease_owner: 'w1' })
      .where('id', '=', id)
      .execute();
    expect((await s.api.post(`/deliveries/${id}/resend`)).status).toBe(409);
    s.t.clock.advance(30_001); // the lease expired: a crashed worker does not block a resend
    expect((await s.api.post(`/deliveries/${id}/resend`)).status).toBe(200);

    await recordAttempt(s.t, id, 'dead');
    await s.api.patch(`/webhooks/${ep.id}`, { enabled: false });
    const disabled = await s.api.post(`/deliveries/${id}/resend`);
    expect(disabled.status).toBe(409);
    expect(disabled.body.error.message).toMatch(/disabled/);
    await s.api.delete(`/webhooks/${ep.id}`);
    const deleted = await s.api.post(`/deliveries/${id}/resend`);
    expect(deleted.status).toBe(409);
    expect(deleted.body.error.message).toMatch(/deleted/);
    expect((await deliveryRow(id)).status).toBe('dead');
  });

  it('recover resends failed and dead deliveries of that endpoint since a time', async () => {
    const ep = await createEndpoint(s.api);
    const other = await createEndpoint(s.api);
    const start = s.t.clock.now();
    for (let i = 0; i < 5; i++) {
      await fileComplaint(s.t, s.volt.consumerToken);
      s.t.clock.advance(HOUR);
    }
    const mine = (
      await s.t.store.db
        .selectFrom('deliveries')
        .select('id')
        .where('endpoint_id', '=', ep.id)
        .orderBy('created_at')
        .execute()
    ).map((r) => r.id);
    const theirs = (
      await s.t.store.db.selectFrom('deliveries').select('id').where('endpoint_id', '=', other.id).execute()
    ).map((r) => r.id);
    // [0] dead but before `since`; [1] dead; [2] failed; [3] success; [4] failed and leased right now.
    await recordAttempt(s.t, mine[0], 'dead');
    await recordAttempt(s.t, mine[1], 'dead');
    await recordAttempt(s.t, mine[2], 'failed');
    await recordAttempt(s.t, mine[3], 'success');
    await recordAttempt(s.t, mine[4], 'failed');
    await s.t.store.db
      .updateTable('deliveries')
      .set({ lease_until: s.t.clock.now() + 10_000, lease_owner: 'w' })
      .where('id', '=', mine[4])
      .execute();
    for (const id of theirs) await recordAttempt(s.t, id, 'dead');
    wakes = 0;

    const since = new Date(start + HOUR).toISOString();
    const res = await s.api.post(`/webhooks/${ep.id}/recover`, { since });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ resent: 2, skipped: 1 });
    expect(wakes).toBe(1);
    const status = async (id: string) => (await deliveryRow(id)).status;
    expect(await status(mine[0])).toBe('dead');
    expect(await status(mine[1])).toBe('pending');
    expect(await status(mine[2])).toBe('pending');
    expect(await status(mine[3])).toBe('success');
    expect(await status(mine[4])).toBe('failed');
    expect((await deliveryRow(mine[2])).next_attempt_at).toBe(s.t.clock.now());
    for (const id of theirs) expect(await status(id)).toBe('dead');
    // The event also went to the other endpoint, whose delivery is dead: the worker's summary rule says dead.
    expect(await eventStatus(mine[1])).toBe('dead');

    // Nothing left to recover: no wake-up.
    wakes = 0;
    expect(
      (await s.api.post(`/webhooks/${ep.id}/recover`, { since: new Date(s.t.clock.now()).toISOString() })).body.data,
    ).toEqual({ resent: 0, skipped: 0 });
    expect(wakes).toBe(0);
    // A disabled endpoint must be enabled first.
    await s.api.patch(`/webhooks/${ep.id}`, { enabled: false });
    expect((await s.api.post(`/webhooks/${ep.id}/recover`, { since })).status).toBe(409);
  });

  it('counts attempts by outcome per hour and per day for the chart', async () => {
    const ep = await createEndpoint(s.api);
    const now = s.t.clock.now(); // 09:00 UTC
    const a = (await s.api.post(`/webhooks/${ep.id}/test`, {})).body.data.id;
    const b = (await s.api.post(`/webhooks/${ep.id}/test`, {})).body.data.id;
    await recordAttempt(s.t, a, 'failed', { at: now - 2 * HOUR + 5, errorKind: 'timeout', statusCode: null });
    await recordAttempt(s.t, a, 'failed', { at: now - 2 * HOUR + 10 });
    await recordAttempt(s.t, a, 'success', { at: now - HOUR });
    await recordAttempt(s.t, b, 'success', { at: now });
    await recordAttempt(s.t, b, 'success', { at: now - 3 * 86_400_000 }); // outside the default hourly window
    await createEndpoint(s.acmeApi); // another company's attempts never count
    const hourly = await s.api.get('/deliveries/stats');
    expect(hourly.status).toBe(200);
    expect(hourly.body.data.bucket).toBe('hour');
    expect(hourly.body.data.buckets).toHaveLength(25);
    const at = (iso: number) =>
      hourly.body.data.buckets.find((p: { start: string }) => p.start === new Date(iso).toISOString());
    expect(at(now - 2 * HOUR)).toEqual({
      start: new Date(now - 2 * HOUR).toISOString(),
      total: 2,
      success: 0,
      failed: 2,
      failed_by_kind: { timeout: 1, http_status: 1 },
    });
    expect(at(now - HOUR)).toMatchObject({ total: 1, success: 1, failed: 0 });
    expect(at(now)).toMatchObject({ total: 1, success: 1 });
    expect(hourly.body.data.buckets.reduce((n: number, p: { total: number }) => n + p.total, 0)).toBe(4);

    const daily = await s.api.get(
      `/deliveries/stats?bucket=day&since=${encodeURIComponent(new Date(now - 7 * 86_400_000).toISOString())}`,
    );
    expect(daily.body.data.buckets).toHaveLength(8);
    expect(daily.body.data.buckets.at(-1)).toMatchObject({ total: 4, success: 2, failed: 2 });
    expect(daily.body.data.buckets.at(-4)).toMatchObject({ total: 1, success: 1 });
    expect(
      (await s.acmeApi.get('/deliveries/stats?bucket=day')).body.data.buckets.every(
        (p: { total: number }) => p.total === 0,
      ),
    ).toBe(true);
  });
});
