import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, createEndpoint, fileComplaint, HOOK_URL, setupWebhooks } from './endpoints-helpers.js';
import { revokeApiKey } from '../../src/domain/api-keys.js';

type Setup = Awaited<ReturnType<typeof setupWebhooks>>;

describe('webhook endpoints: create, read, update, delete', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setupWebhooks();
  });
  afterEach(async () => s.t.close());

  it('creates an endpoint with defaults and returns its secret once', async () => {
    const res = await s.api.post('/webhooks', { url: HOOK_URL, events: ['complaint.created', 'complaint.escalated'] });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    const ep = res.body.data;
    expect(ep).toMatchObject({
      url: HOOK_URL,
      description: null,
      enabled: true,
      events: ['complaint.created', 'complaint.escalated'],
      auth: { type: 'none', header_name: null },
      has_token: false,
      timeout_ms: 10000,
      disabled_reason: null,
      failing_since: null,
      previous_secret_expires_at: null,
    });
    expect(ep.id).toMatch(/^ep_[0-9a-z]{20}$/);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(ep.secret.slice(6), 'base64')).toHaveLength(32);
  });

  it('lists and gets endpoints without the secret or credential', async () => {
    const a = await createEndpoint(s.api, {
      description: 'Helpdesk',
      auth: { type: 'bearer', token: 'tok_live_abcdef123456' },
    });
    const b = await createEndpoint(s.api, {
      auth: { type: 'custom_header', header_name: 'X-Hook-Token', token: 'hdr-secret-987' },
    });
    s.t.clock.advance(1000);
    const listed = await s.api.get('/webhooks');
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ success: true, page: 1, limit: 25, total: 2 });
    expect(listed.body.data.map((e: { id: string }) => e.id).sort()).toEqual([a.id, b.id].sort());
    const got = await s.api.get(`/webhooks/${b.id}`);
    expect(got.status).toBe(200);
    expect(got.body.data.auth).toEqual({ type: 'custom_header', header_name: 'X-Hook-Token' });
    expect(got.body.data.has_token).toBe(true);
    for (const raw of [listed.raw, got.raw]) {
      expect(raw).not.toContain(a.secret);
      expect(raw).not.toContain(b.secret);
      expect(raw).not.toContain('tok_live_abcdef123456');
      expect(raw).not.toContain('hdr-secret-987');
      expect(raw).not.toContain('"secret"');
      expect(raw).not.toContain('"token"');
    }
  });

  it('paginates the list', async () => {
    for (let i = 0; i < 3; i++) {
      await createEndpoint(s.api, { description: `n${i}` });
      s.t.clock.advance(1000);
    }
    const p1 = await s.api.get('/webhooks?limit=2&page=1');
    const p2 = await s.api.get('/webhooks?limit=2&page=2');
    expect(p1.body.total).toBe(3);
    expect(p1.body.data.map((e: { description: string }) => e.description)).toEqual(['n2', 'n1']);
    expect(p2.body.data.map((e: { description: string }) => e.description)).toEqual(['n0']);
    expect((await s.api.get('/webhooks?limit=0')).status).toBe(400);
    expect((await s.api.get('/webhooks?page=abc')).body.error.code).toBe('invalid_query');
  });

  it('patches any subset of fields and keeps the stored token when the type changes without one', async () => {
    const ep = await createEndpoint(s.api, { auth: { type: 'bearer', token: 'keep-me-123' } });
    s.t.clock.advance(5000);
    const res = await s.api.patch(`/webhooks/${ep.id}`, {
      description: 'Renamed',
      events: ['webhook.test', 'complaint.resolved'],
      timeout_ms: 2500,
      auth: { type: 'custom_header', header_name: 'X-Token' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      description: 'Renamed',
      events: ['webhook.test', 'complaint.resolved'],
      timeout_ms: 2500,
      auth: { type: 'custom_header', header_name: 'X-Token' },
      has_token: true,
    });
    expect(res.body.data.updated_at).not.toBe(res.body.data.created_at);
    const row = await s.t.store.db
      .selectFrom('endpoints')
      .selectAll()
      .where('id', '=', ep.id)
      .executeTakeFirstOrThrow();
    expect(s.t.app.ctx.box.openJson(row.auth_enc!)).toEqual({ token: 'keep-me-123', header_name: 'X-Token' });
    const none = await s.api.patch(`/webhooks/${ep.id}`, { auth: { type: 'none' } });
    expect(none.body.data).toMatchObject({ auth: { type: 'none', header_name: null }, has_token: false });
    const missing = await s.api.patch(`/webhooks/${ep.id}`, { auth: { type: 'api_key' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/token is required/);
  });

  it('disabling and re-enabling: re-enable clears the disabled reason and failing streak', async () => {
    const ep = await createEndpoint(s.api);
    const off = await s.api.patch(`/webhooks/${ep.id}`, { enabled: false });
    expect(off.body.data).toMatchObject({ enabled: false, disabled_reason: 'manual' });
    expect(off.body.data.disabled_at).toBe(new Date(s.t.clock.now()).toISOString());
    await s.t.store.db
      .updateTable('endpoints')
      .set({ disabled_reason: 'failing_5_days', failing_since: s.t.clock.now() - 1000 })
      .where('id', '=', ep.id)
      .execute();
    const on = await s.api.patch(`/webhooks/${ep.id}`, { enabled: true });
    expect(on.body.data).toMatchObject({
      enabled: true,
      disabled_reason: null,
      disabled_at: null,
      failing_since: null,
    });
  });

  it('a disabled endpoint gets no deliveries; created disabled shows as manual', async () => {
    const ep = await createEndpoint(s.api, { enabled: false });
    expect(ep).toMatchObject({ enabled: false, disabled_reason: 'manual' });
    await fileComplaint(s.t, s.volt.consumerToken);
    const rows = await s.t.store.db.selectFrom('deliveries').select('id').where('endpoint_id', '=', ep.id).execute();
    expect(rows).toHaveLength(0);
  });

  it("delete ends the endpoint's due deliveries and keeps the history", async () => {
    const ep = await createEndpoint(s.api);
    const keep = await createEndpoint(s.api);
    await fileComplaint(s.t, s.volt.consumerToken);
    await fileComplaint(s.t, s.volt.consumerToken);
    const before = await s.t.store.db
      .selectFrom('deliveries')
      .select(['id', 'event_id'])
      .where('endpoint_id', '=', ep.id)
      .orderBy('created_at')
      .execute();
    expect(before).toHaveLength(2);
    await s.t.store.db
      .updateTable('deliveries')
      .set({ status: 'success', attempt_count: 1 })
      .where('id', '=', before[0].id)
      .execute();

    const res = await s.api.delete(`/webhooks/${ep.id}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ id: ep.id, deleted: true, ended_deliveries: 1 });
    expect((await s.api.get(`/webhooks/${ep.id}`)).status).toBe(404);
    expect((await s.api.delete(`/webhooks/${ep.id}`)).status).toBe(404);

    const after = await s.t.store.db
      .selectFrom('deliveries')
      .select(['id', 'status', 'next_attempt_at', 'last_error'])
      .where('endpoint_id', '=', ep.id)
      .execute();
    const byId = new Map(after.map((d) => [d.id, d]));
    expect(byId.get(before[0].id)).toMatchObject({ status: 'success' });
    expect(byId.get(before[1].id)).toMatchObject({
      status: 'dead',
      next_attempt_at: null,
      last_error: 'endpoint deleted',
    });
    // The other endpoint's delivery of the same event is untouched; the event's summary follows the worker's rule.
    const other = await s.t.store.db
      .selectFrom('deliveries')
      .select('status')
      .where('endpoint_id', '=', keep.id)
      .where('event_id', '=', before[1].event_id)
      .executeTakeFirstOrThrow();
    expect(other.status).toBe('pending');
    const event = await s.t.store.db
      .selectFrom('events')
      .select('delivery_status')
      .where('id', '=', before[1].event_id)
      .executeTakeFirstOrThrow();
    expect(event.delivery_status).toBe('dead');
    // History stays readable.
    expect((await s.api.get(`/deliveries/${before[1].id}`)).body.data.status).toBe('dead');
  });

  it('limits endpoints per company', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => ({
      id: `ep_${String(i).padStart(20, '0')}`,
      company_id: s.volt.company.id,
      url: HOOK_URL,
      description: null,
      enabled: 1,
      events: '["*"]',
      secret_enc: s.t.app.ctx.box.seal('whsec_x'),
      prev_secret_enc: null,
      prev_secret_expires_at: null,
      auth_type: 'none' as const,
      auth_enc: null,
      timeout_ms: 10000,
      disabled_reason: null,
      disabled_at: null,
      failing_since: null,
      created_at: 1,
      updated_at: 1,
    }));
    await s.t.store.db.insertInto('endpoints').values(rows).execute();
    const res = await s.api.post('/webhooks', { url: HOOK_URL, events: ['*'] });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('endpoint_limit_reached');
    expect(res.body.error.message).toMatch(/at most 50/);
    // Another company is not affected.
    expect((await s.acmeApi.post('/webhooks', { url: HOOK_URL, events: ['*'] })).status).toBe(201);
  });
});

describe('webhook endpoints: access control', () => {
  let s: Setup;
  let epId: string;
  let dlvId: string;
  beforeEach(async () => {
    s = await setupWebhooks();
    const ep = await createEndpoint(s.api);
    epId = ep.id;
    dlvId = (await s.api.post(`/webhooks/${epId}/test`, {})).body.data.id;
  });
  afterEach(async () => s.t.close());

  const routes = (ep: string, dlv: string): [string, string, unknown?][] => [
    ['GET', `/webhooks/${ep}`],
    ['PATCH', `/webhooks/${ep}`, { description: 'x' }],
    ['DELETE', `/webhooks/${ep}`],
    ['GET', `/webhooks/${ep}/secret`],
    ['POST', `/webhooks/${ep}/secret/regenerate`, {}],
    ['POST', `/webhooks/${ep}/test`, {}],
    ['GET', `/webhooks/${ep}/deliveries`],
    ['POST', `/webhooks/${ep}/recover`, { since: '2020-01-01T00:00:00Z' }],
    ['GET', `/deliveries/${dlv}`],
    ['POST', `/deliveries/${dlv}/resend`],
  ];

  const send = (api: ReturnType<typeof client>, [method, url, body]: [string, string, unknown?]) =>
    method === 'GET'
      ? api.get(url)
      : method === 'POST'
        ? api.post(url, body)
        : method === 'PATCH'
          ? api.patch(url, body)
          : api.delete(url);

  it("another company's ids answer 404 exactly like missing ones, and nothing changes", async () => {
    const before = await s.t.store.db
      .selectFrom('endpoints')
      .selectAll()
      .where('id', '=', epId)
      .executeTakeFirstOrThrow();
    const deliveriesBefore = await s.t.store.db.selectFrom('deliveries').selectAll().execute();
    for (const route of routes(epId, dlvId)) {
      const res = await send(s.acmeApi, route);
      expect(res.status, `${route[0]} ${route[1]}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    for (const route of routes('ep_00000000000000000000', 'dlv_00000000000000000000')) {
      expect((await send(s.api, route)).status, `${route[0]} ${route[1]} (missing)`).toBe(404);
    }
    for (const route of routes('not-an-id', 'nope')) {
      expect((await send(s.api, route)).status, `${route[0]} ${route[1]} (malformed)`).toBe(404);
    }
    expect(
      await s.t.store.db.selectFrom('endpoints').selectAll().where('id', '=', epId).executeTakeFirstOrThrow(),
    ).toEqual(before);
    expect(await s.t.store.db.selectFrom('deliveries').selectAll().execute()).toEqual(deliveriesBefore);
    // Lists never show another company's rows.
    expect((await s.acmeApi.get('/webhooks')).body.total).toBe(0);
    expect((await s.acmeApi.get('/deliveries')).body.total).toBe(0);
    expect((await s.acmeApi.get(`/deliveries?endpoint_id=${epId}`)).body.total).toBe(0);
  });

  it('a read-scope key gets 403 and no credentials get 401 on every route', async () => {
    const all: [string, string, unknown?][] = [
      ['GET', '/webhooks'],
      ['POST', '/webhooks', { url: HOOK_URL, events: ['*'] }],
      ['GET', '/deliveries'],
      ['GET', '/deliveries/stats'],
      ...routes(epId, dlvId),
    ];
    for (const route of all) {
      const read = await send(s.readApi, route);
      expect(read.status, `${route[0]} ${route[1]}`).toBe(403);
      expect(read.body.error.code).toBe('insufficient_scope');
      const anon = await send(client(s.t, null), route);
      expect(anon.status).toBe(401);
      const bogus = await send(client(s.t, 'esc_not_a_real_key'), route);
      expect(bogus.status).toBe(401);
    }
    const keyId = (
      await s.t.store.db
        .selectFrom('api_keys')
        .select('id')
        .where('company_id', '=', s.volt.company.id)
        .where('scope', '=', 'admin')
        .executeTakeFirstOrThrow()
    ).id;
    await revokeApiKey(s.t.app.ctx, s.volt.company.id, keyId);
    expect((await s.api.get('/webhooks')).status).toBe(401);
    expect(await s.t.store.db.selectFrom('endpoints').select('id').execute()).toHaveLength(1);
  });
});
