import { readFileSync, existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, dialectName, seedTenant, type TestApp } from '../helpers/harness.js';
import { createAutomationOk, postAutomation } from './shield-helpers.js';

const TOKEN = 'tok_shield_SECRET_9f8e7d6c5b4a';
const SLACK = 'https://hooks.slack.com/services/T00000000/B00000000/SLACKSECRETxyz123';

describe('shield automations API', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  beforeEach(async () => {
    t = await createTestApp({ config: { allowHttpWebhooks: false } });
    tenant = await seedTenant(t);
  });
  afterEach(async () => t.close());

  const full = {
    name: 'Legal threats',
    active: true,
    filter: { min_level: 'high', sources: ['ZendeskSupport'], keywords: ['lawyer', 'sue'] },
    destinations: [
      {
        type: 'webhook',
        url: 'https://hooks.example.com/shield',
        auth: { type: 'bearer', token: TOKEN },
        timeout_ms: 8000,
      },
      {
        type: 'webhook',
        url: 'https://router.example.com/in',
        auth: { type: 'custom_header', token: TOKEN, header_name: 'X-Router-Token' },
      },
      { type: 'slack', url: SLACK },
      { type: 'email', to: ['oncall@volt.test', 'ONCALL@volt.test', 'lead@volt.test'] },
    ],
  };

  it('creates an automation and never returns credentials', async () => {
    const res = await postAutomation(t, tenant.adminKey, full);
    expect(res.statusCode).toBe(201);
    const a = res.json().data;
    expect(a).toMatchObject({ name: 'Legal threats', active: true, filter: full.filter });
    expect(a.id).toMatch(/^aut_/);
    expect(a.destinations).toEqual([
      {
        id: expect.stringMatching(/^dst_/),
        type: 'webhook',
        url: 'https://hooks.example.com/shield',
        auth: { type: 'bearer', header_name: null, has_token: true },
        timeout_ms: 8000,
      },
      {
        id: expect.stringMatching(/^dst_/),
        type: 'webhook',
        url: 'https://router.example.com/in',
        auth: { type: 'custom_header', header_name: 'X-Router-Token', has_token: true },
        timeout_ms: 5000,
      },
      {
        id: expect.stringMatching(/^dst_/),
        type: 'slack',
        url: 'https://hooks.slack.com/services/T00000000/B00000000/********',
      },
      { id: expect.stringMatching(/^dst_/), type: 'email', to: ['oncall@volt.test', 'lead@volt.test'] },
    ]);
    const listed = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/automations',
      headers: bearer(tenant.readKey),
    });
    expect(listed.json()).toMatchObject({ success: true, page: 1, limit: 25, total: 1 });
    expect(listed.json().data[0]).toEqual(a);
    for (const text of [res.body, listed.body]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain('SLACKSECRET');
    }
    const one = await t.app.http.inject({
      method: 'GET',
      url: `/api/v1/automations/${a.id}`,
      headers: bearer(tenant.readKey),
    });
    expect(one.json().data).toEqual(a);
  });

  it('stores destination credentials encrypted: not in the database bytes', async () => {
    await createAutomationOk(t, tenant.adminKey, full);
    const stored = await t.store.db.selectFrom('destinations').select('config_enc').execute();
    expect(stored).toHaveLength(4);
    for (const row of stored) {
      expect(row.config_enc).toMatch(/^v1\./);
      expect(row.config_enc).not.toContain(TOKEN);
    }
    if (dialectName === 'sqlite') {
      const file = t.store.sqliteFile!;
      const bytes = Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
      expect(bytes.length).toBeGreaterThan(0);
      expect(bytes.includes(Buffer.from(TOKEN))).toBe(false);
      expect(bytes.includes(Buffer.from('SLACKSECRET'))).toBe(false);
      expect(bytes.includes(Buffer.from('X-Router-Token'))).toBe(false);
    }
  });

  it('patches fields, keeps stored credentials for kept destinations, and replaces the list', async () => {
    const a = await createAutomationOk(t, tenant.adminKey, full);
    const [hook, router, slack] = a.destinations;
    const res = await t.app.http.inject({
      method: 'PATCH',
      url: `/api/v1/automations/${a.id}`,
      headers: bearer(tenant.adminKey),
      payload: {
        active: false,
        filter: { min_level: 'medium' },
        destinations: [
          { id: hook.id, type: 'webhook', url: 'https://hooks.example.com/v2' },
          { id: slack.id, type: 'slack' },
          { type: 'email', to: ['new@volt.test'] },
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    const b = res.json().data;
    expect(b).toMatchObject({ active: false, filter: { min_level: 'medium' }, name: 'Legal threats' });
    expect(b.destinations.map((d: { id: string }) => d.id).slice(0, 2)).toEqual([hook.id, slack.id]);
    expect(b.destinations[0]).toMatchObject({
      url: 'https://hooks.example.com/v2',
      auth: { type: 'bearer', has_token: true },
    });
    expect(b.destinations[1].url).toBe(slack.url);
    expect(b.destinations[2]).toMatchObject({ type: 'email', to: ['new@volt.test'] });
    const ids = (await t.store.db.selectFrom('destinations').select('id').execute()).map((r) => r.id);
    expect(ids).not.toContain(router.id);
    expect(ids).toHaveLength(3);
    // The kept token is still the one stored at creation.
    const row = await t.store.db
      .selectFrom('destinations')
      .select('config_enc')
      .where('id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(t.app.ctx.box.openJson<{ auth: { token: string } }>(row.config_enc).auth.token).toBe(TOKEN);

    // Switching auth type needs a new credential.
    const noToken = await t.app.http.inject({
      method: 'PATCH',
      url: `/api/v1/automations/${a.id}`,
      headers: bearer(tenant.adminKey),
      payload: { destinations: [{ id: hook.id, type: 'webhook', auth: { type: 'api_key' } }] },
    });
    expect(noToken.statusCode).toBe(400);
    expect(noToken.json().error.message).toContain('destinations[0].auth.token');
  });

  it('deletes an automation with its destinations', async () => {
    const a = await createAutomationOk(t, tenant.adminKey, full);
    const del = await t.app.http.inject({
      method: 'DELETE',
      url: `/api/v1/automations/${a.id}`,
      headers: bearer(tenant.adminKey),
    });
    expect(del.statusCode).toBe(200);
    expect(del.json().data).toEqual({ id: a.id, deleted: true });
    expect(await t.store.db.selectFrom('destinations').selectAll().execute()).toHaveLength(0);
    const again = await t.app.http.inject({
      method: 'DELETE',
      url: `/api/v1/automations/${a.id}`,
      headers: bearer(tenant.adminKey),
    });
    expect(again.statusCode).toBe(404);
  });

  it('refuses invalid automations with a clear 400 and writes nothing', async () => {
    const base = { name: 'x', filter: { min_level: 'high' }, destinations: [] as unknown[] };
    const cases: Array<[string, unknown, string, string]> = [
      ['missing name', { filter: base.filter }, 'validation_failed', 'name'],
      ['blank name', { ...base, name: '   ' }, 'validation_failed', 'name'],
      ['name wrong type', { ...base, name: 5 }, 'validation_failed', 'name'],
      ['bad level', { ...base, filter: { min_level: 'severe' } }, 'validation_failed', 'min_level'],
      ['missing filter', { name: 'x' }, 'validation_failed', 'filter'],
      ['unknown field', { ...base, colour: 'red' }, 'validation_failed', 'colour'],
      ['active not boolean', { ...base, active: 'yes' }, 'validation_failed', 'active'],
      [
        'http webhook',
        { ...base, destinations: [{ type: 'webhook', url: 'http://hooks.example.com/x' }] },
        'invalid_url',
        'https://',
      ],
      [
        'not a url',
        { ...base, destinations: [{ type: 'webhook', url: 'not a url' }] },
        'invalid_url',
        'destinations[0].url',
      ],
      [
        'url with credentials',
        { ...base, destinations: [{ type: 'webhook', url: 'https://u:p@hooks.example.com/' }] },
        'invalid_url',
        'credentials',
      ],
      [
        'webhook without url',
        { ...base, destinations: [{ type: 'webhook' }] },
        'validation_failed',
        'destinations[0].url',
      ],
      [
        'bearer without token',
        { ...base, destinations: [{ type: 'webhook', url: 'https://h.example.com/', auth: { type: 'bearer' } }] },
        'validation_failed',
        'auth.token',
      ],
      [
        'custom header without name',
        {
          ...base,
          destinations: [
            { type: 'webhook', url: 'https://h.example.com/', auth: { type: 'custom_header', token: 'abcdef' } },
          ],
        },
        'validation_failed',
        'header_name',
      ],
      [
        'reserved header',
        {
          ...base,
          destinations: [
            {
              type: 'webhook',
              url: 'https://h.example.com/',
              auth: { type: 'custom_header', token: 'abcdef', header_name: 'Idempotency-Key' },
            },
          ],
        },
        'validation_failed',
        'reserved',
      ],
      [
        'token with newline',
        {
          ...base,
          destinations: [{ type: 'webhook', url: 'https://h.example.com/', auth: { type: 'bearer', token: 'ab\ncd' } }],
        },
        'validation_failed',
        'auth.token',
      ],
      [
        'timeout too low',
        { ...base, destinations: [{ type: 'webhook', url: 'https://h.example.com/', timeout_ms: 10 }] },
        'validation_failed',
        'timeout_ms',
      ],
      [
        'timeout too high',
        { ...base, destinations: [{ type: 'webhook', url: 'https://h.example.com/', timeout_ms: 30001 }] },
        'validation_failed',
        'timeout_ms',
      ],
      [
        'unknown type',
        { ...base, destinations: [{ type: 'pager', url: 'https://h.example.com/' }] },
        'validation_failed',
        'type',
      ],
      [
        'slack http',
        { ...base, destinations: [{ type: 'slack', url: 'http://hooks.slack.com/x' }] },
        'invalid_url',
        'https://',
      ],
      ['email empty', { ...base, destinations: [{ type: 'email', to: [] }] }, 'validation_failed', 'to'],
      [
        'email bad address',
        { ...base, destinations: [{ type: 'email', to: ['not-an-email'] }] },
        'validation_failed',
        'to',
      ],
      [
        'too many recipients',
        { ...base, destinations: [{ type: 'email', to: Array.from({ length: 21 }, (_, i) => `p${i}@x.test`) }] },
        'validation_failed',
        'to',
      ],
      [
        'email with url',
        { ...base, destinations: [{ type: 'email', to: ['a@b.test'], url: 'https://x.test/' }] },
        'validation_failed',
        'url',
      ],
      [
        'too many destinations',
        { ...base, destinations: Array.from({ length: 11 }, () => ({ type: 'email', to: ['a@b.test'] })) },
        'validation_failed',
        'destinations',
      ],
      [
        'foreign destination id',
        { ...base, destinations: [{ id: 'dst_nope', type: 'email', to: ['a@b.test'] }] },
        'validation_failed',
        'destinations[0].id',
      ],
      [
        'keywords not strings',
        { ...base, filter: { min_level: 'low', keywords: [1] } },
        'validation_failed',
        'keywords',
      ],
    ];
    for (const [label, payload, code, mention] of cases) {
      const res = await postAutomation(t, tenant.adminKey, payload);
      expect(res.statusCode, label).toBe(400);
      expect(res.json().error.code, label).toBe(code);
      expect(res.json().error.message, label).toContain(mention);
    }
    expect(await t.store.db.selectFrom('automations').selectAll().execute()).toHaveLength(0);
    expect(await t.store.db.selectFrom('destinations').selectAll().execute()).toHaveLength(0);
  });

  it('allows plain http destinations only when the operator allows them', async () => {
    const dev = await createTestApp({ config: { allowHttpWebhooks: true } });
    try {
      const devTenant = await seedTenant(dev);
      const res = await postAutomation(dev, devTenant.adminKey, {
        name: 'dev',
        filter: { min_level: 'low' },
        destinations: [{ type: 'webhook', url: 'http://127.0.0.1:9/x' }],
      });
      expect(res.statusCode).toBe(201);
    } finally {
      await dev.close();
    }
  });

  it('needs admin for writes and a credential for reads', async () => {
    const a = await createAutomationOk(t, tenant.adminKey, full);
    const readWrite = await postAutomation(t, tenant.readKey, full);
    expect(readWrite.statusCode).toBe(403);
    const patch = await t.app.http.inject({
      method: 'PATCH',
      url: `/api/v1/automations/${a.id}`,
      headers: bearer(tenant.readKey),
      payload: { active: false },
    });
    expect(patch.statusCode).toBe(403);
    const del = await t.app.http.inject({
      method: 'DELETE',
      url: `/api/v1/automations/${a.id}`,
      headers: bearer(tenant.readKey),
    });
    expect(del.statusCode).toBe(403);
    const anon = await t.app.http.inject({ method: 'GET', url: '/api/v1/automations' });
    expect(anon.statusCode).toBe(401);
    const bogus = await t.app.http.inject({ method: 'GET', url: '/api/v1/automations', headers: bearer('esc_bogus') });
    expect(bogus.statusCode).toBe(401);
    expect((await t.store.db.selectFrom('automations').select('active').executeTakeFirstOrThrow()).active).toBe(1);
  });

  it('works from a dashboard session: reads freely, writes only with the CSRF token', async () => {
    const login = await t.app.http.inject({
      method: 'POST',
      url: '/api/session/login',
      payload: { email: 'owner@volt.test', password: 'correct horse battery' },
    });
    expect(login.statusCode).toBe(200);
    const cookie = login.cookies.find((c) => c.name === 'escalatr_session')!;
    const csrf = login.json().data.csrf_token as string;
    const cookies = { escalatr_session: cookie.value };
    const noCsrf = await t.app.http.inject({ method: 'POST', url: '/api/v1/automations', cookies, payload: full });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().error.code).toBe('csrf_failed');
    const created = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/automations',
      cookies,
      headers: { 'x-csrf-token': csrf },
      payload: full,
    });
    expect(created.statusCode).toBe(201);
    const listed = await t.app.http.inject({ method: 'GET', url: '/api/v1/automations', cookies });
    expect(listed.json().total).toBe(1);
    const feedback = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/feedback',
      cookies,
      headers: { 'x-csrf-token': csrf },
      payload: { id: 's-1', source: 'Z', content: 'hello' },
    });
    expect(feedback.statusCode).toBe(202);
  });

  it("answers 404 for another company's automation, exactly like a missing one, and changes nothing", async () => {
    const other = await seedTenant(t, { code: 'ACME' });
    const theirs = await createAutomationOk(t, other.adminKey, full);
    const missing = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/automations/aut_missing',
      headers: bearer(tenant.readKey),
    });
    for (const [method, payload] of [
      ['GET', undefined],
      ['PATCH', { active: false }],
      ['DELETE', undefined],
    ] as const) {
      const res = await t.app.http.inject({
        method,
        url: `/api/v1/automations/${theirs.id}`,
        headers: bearer(tenant.adminKey),
        payload,
      });
      expect(res.statusCode, method).toBe(404);
      expect(res.json().error).toEqual(missing.json().error);
    }
    const list = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/automations',
      headers: bearer(tenant.readKey),
    });
    expect(list.json().total).toBe(0);
    // Their destination ids cannot be adopted into our automation either.
    const mine = await createAutomationOk(t, tenant.adminKey, { destinations: [] });
    const steal = await t.app.http.inject({
      method: 'PATCH',
      url: `/api/v1/automations/${mine.id}`,
      headers: bearer(tenant.adminKey),
      payload: { destinations: [{ id: theirs.destinations[0].id, type: 'webhook' }] },
    });
    expect(steal.statusCode).toBe(400);
    const still = await t.store.db
      .selectFrom('automations')
      .select('active')
      .where('id', '=', theirs.id)
      .executeTakeFirstOrThrow();
    expect(still.active).toBe(1);
    const empty = await t.app.http.inject({
      method: 'PATCH',
      url: `/api/v1/automations/${mine.id}`,
      headers: bearer(tenant.adminKey),
      payload: {},
    });
    expect(empty.statusCode).toBe(400);
  });
});
