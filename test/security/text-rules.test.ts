import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInvalidText } from '../../src/domain/text.js';
import { bearer, createTestApp, dialectName, type TestApp } from '../helpers/harness.js';
import { complaintInput, seedCompany, snapshot, type Tenant } from '../domain/complaint-fixtures.js';

/**
 * NUL and lone UTF-16 surrogates are refused in every text a request carries — body at any depth, query, path — with
 * 400 `invalid_text` naming the field, the same on SQLite and PostgreSQL, and nothing is written.
 */
describe(`text that cannot be stored is refused everywhere (${dialectName})`, () => {
  let t: TestApp;
  let tenant: Tenant;
  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
  });
  afterAll(async () => t.close());

  // JSON.stringify writes a lone surrogate as the escape \udXXX, so the server's parser produces exactly that string.
  const send = (method: 'POST' | 'PATCH' | 'GET', url: string, key: string, body?: unknown) =>
    t.app.http.inject({
      method,
      url,
      headers: { ...bearer(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    });

  const cases: Array<{ name: string; run: () => ReturnType<typeof send>; field: string }> = [
    {
      name: 'a lone high surrogate in a complaint title',
      run: () =>
        send('POST', '/api/consumer/v1/complaints', tenant.consumerToken, complaintInput({ title: 'a\ud800b' })),
      field: 'title',
    },
    {
      name: 'a lone low surrogate at the end of a description',
      run: () =>
        send('POST', '/api/consumer/v1/complaints', tenant.consumerToken, complaintInput({ description: 'x\udfff' })),
      field: 'description',
    },
    {
      name: 'NUL in a complaint title',
      run: () =>
        send('POST', '/api/consumer/v1/complaints', tenant.consumerToken, complaintInput({ title: 'a\u0000b' })),
      field: 'title',
    },
    {
      name: 'NUL deep inside an automation destination',
      run: () =>
        send('POST', '/api/v1/automations', tenant.adminKey, {
          name: 'alerts',
          filter: { min_level: 'high' },
          destinations: [{ type: 'email', to: ['ops@example.test', 'a\u0000@example.test'] }],
        }),
      field: 'destinations[0].to[1]',
    },
    {
      name: 'a lone surrogate in a webhook description',
      run: () =>
        send('POST', '/api/v1/webhooks', tenant.adminKey, {
          url: 'https://hooks.example.test/x',
          events: ['*'],
          description: '\udc00',
        }),
      field: 'description',
    },
    {
      name: 'NUL in a query string',
      run: () => send('GET', '/api/v1/feedback?source=zen%00desk', tenant.readKey),
      field: 'source',
    },
  ];

  for (const c of cases) {
    it(`${c.name}: 400 invalid_text naming ${c.field}, nothing written`, async () => {
      const before = await snapshot(t.store.db);
      const res = await c.run();
      expect(res.statusCode).toBe(400);
      const error = res.json().error;
      expect(error.code).toBe('invalid_text');
      expect(error.details.field).toBe(c.field);
      expect(error.message).toContain(c.field);
      expect(await snapshot(t.store.db)).toEqual(before);
    });
  }

  it('names the object whose property name is bad', async () => {
    const res = await send('POST', '/api/consumer/v1/complaints', tenant.consumerToken, {
      ...complaintInput(),
      ['ti\u0000tle']: 'x',
    });
    expect([res.statusCode, res.json().error.code, res.json().error.details.field]).toEqual([
      400,
      'invalid_text',
      '(body)',
    ]);
  });

  it('keeps well-formed text, emoji (surrogate pairs) included, exactly as sent', async () => {
    const title = 'Fridge 😀 broken — ü, 漢字, e\u0301';
    const res = await send('POST', '/api/consumer/v1/complaints', tenant.consumerToken, complaintInput({ title }));
    expect(res.statusCode).toBe(201);
    const id = res.json().data.escalatr_id;
    const back = await send('GET', `/api/consumer/v1/complaints/${id}`, tenant.consumerToken);
    expect(back.json().data.title).toBe(title);
  });

  it('reports a feedback record with a lone surrogate by its index and stores the others', async () => {
    const res = await send('POST', '/api/v1/feedback', tenant.adminKey, {
      records: [
        { id: 'ok-1', source: 'Zendesk', content: 'fine' },
        { id: 'bad-1', source: 'Zendesk', content: 'broken \ud83d text' },
      ],
    });
    expect(res.statusCode).toBe(202);
    const body = JSON.stringify(res.json());
    expect(body).toContain('surrogate');
    const stored = await t.store.db.selectFrom('feedback_records').select('record_id').execute();
    expect(stored.map((r) => r.record_id)).toEqual(['ok-1']);
  });

  it('finds bad text at any depth without recursion limits', () => {
    let deep: unknown = 'a\u0000';
    for (let i = 0; i < 50_000; i++) deep = [deep];
    expect(findInvalidText(deep)?.problem).toMatch(/NUL/);
    expect(findInvalidText({ a: ['ok', { b: '\ud800' }] })).toEqual({
      field: 'a[1].b',
      problem: expect.stringMatching(/surrogate/),
    });
    expect(findInvalidText({ a: ['ok', { b: '😀' }] })).toBeNull();
  });
});
