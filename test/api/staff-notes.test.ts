import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, bearer, type TestApp } from '../helpers/harness.js';
import { session } from './platform-fixtures.js';
import {
  call,
  consumerApi,
  expectError,
  fileComplaint,
  okData,
  seedCompany,
  snapshot,
  staffApi,
  type Tenant,
} from '../domain/complaint-fixtures.js';

const SECRET = 'INTERNAL-ONLY-7f3a: customer is a known chargeback risk';

/** Internal notes: staff write and read them; the consumer never sees them, and no event carries them. */
describe('Platform API: internal notes', () => {
  let t: TestApp;
  let tenant: Tenant;
  let acme: Tenant;
  let admin: ReturnType<typeof staffApi>;
  let id: string;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    acme = await seedCompany(t, { code: 'ACME' });
    admin = staffApi(t, tenant.adminKey);
    id = await fileComplaint(t, tenant.consumerToken);
  });
  afterAll(async () => t.close());

  it('agents and admin keys add notes; any staff credential lists them, oldest first', async () => {
    const agent = await session(t, tenant.company.id, 'agent');
    const first = okData(
      await call(t, {
        method: 'POST',
        url: `/api/v1/complaints/${id}/notes`,
        headers: agent.withCsrf,
        payload: { body: 'Called the customer, no answer' },
      }),
      201,
    );
    expect(first).toEqual({
      id: expect.stringMatching(/^nte_[a-z0-9]{20}$/),
      author: agent.email,
      body: 'Called the customer, no answer',
      created_at: new Date(t.clock.now()).toISOString(),
    });
    t.clock.advance(1000);
    const second = okData(await admin.post(`/complaints/${id}/notes`, { body: 'x'.repeat(10_000) }), 201);
    expect(second.author).toBe('api-key:admin');

    const r = await staffApi(t, tenant.readKey).get(`/complaints/${id}/notes`);
    expect(okData(r).map((n: { id: string }) => n.id)).toEqual([first.id, second.id]);
    expect(r.body).toMatchObject({ page: 1, limit: 100, total: 2 });
    const viewer = await session(t, tenant.company.id, 'viewer');
    expect(
      okData(await call(t, { method: 'GET', url: `/api/v1/complaints/${id}/notes`, headers: viewer.cookie })),
    ).toHaveLength(2);
  });

  it('refuses bad notes, viewers, read keys and other companies, changing nothing', async () => {
    const viewer = await session(t, tenant.company.id, 'viewer');
    const before = await snapshot(t.store.db);
    const bad: Array<[unknown, string]> = [
      [{}, 'validation_failed'],
      [{ body: '' }, 'validation_failed'],
      [{ body: '   \n ' }, 'validation_failed'],
      [{ body: 'x'.repeat(10_001) }, 'validation_failed'],
      [{ body: 42 }, 'validation_failed'],
      [{ body: 'ok', extra: 1 }, 'validation_failed'],
      [{ body: 'nul \u0000 here' }, 'invalid_text'],
      [{ body: 'lone \ud800 surrogate' }, 'invalid_text'],
    ];
    for (const [body, code] of bad) expectError(await admin.post(`/complaints/${id}/notes`, body), 400, code);
    expectError(
      await staffApi(t, tenant.readKey).post(`/complaints/${id}/notes`, { body: 'n' }),
      403,
      'insufficient_scope',
    );
    expectError(
      await call(t, {
        method: 'POST',
        url: `/api/v1/complaints/${id}/notes`,
        headers: viewer.withCsrf,
        payload: { body: 'n' },
      }),
      403,
      'forbidden',
    );
    expectError(
      await call(t, { method: 'POST', url: `/api/v1/complaints/${id}/notes`, payload: { body: 'n' } }),
      401,
      'unauthorized',
    );
    expectError(
      await call(t, { method: 'GET', url: `/api/v1/complaints/${id}/notes`, headers: bearer(tenant.consumerToken) }),
      401,
      'unauthorized',
    );
    // Another company's complaint answers exactly like one that does not exist.
    const missing = id.replace(/\d{5}$/, '99999');
    const foreign = staffApi(t, acme.adminKey);
    for (const target of [id, missing]) {
      const posted = await foreign.post(`/complaints/${target}/notes`, { body: 'n' });
      expectError(posted, 404, 'not_found');
      expectError(await foreign.get(`/complaints/${target}/notes`), 404, 'not_found');
    }
    expect((await foreign.post(`/complaints/${id}/notes`, { body: 'n' })).body.error.message).toBe(
      (await foreign.post(`/complaints/${missing}/notes`, { body: 'n' })).body.error.message.replace(missing, id),
    );
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it('never reaches the consumer: not in any consumer route, not in any event, not even as a new updated_at', async () => {
    const endpoint = okData(await admin.post('/webhooks', { url: 'http://127.0.0.1:9/all', events: ['*'] }), 201);
    const consumer = consumerApi(t, tenant.consumerToken);
    const beforeDetail = okData(await consumer.get(`/complaints/${id}`));
    t.clock.advance(60_000);
    okData(await admin.post(`/complaints/${id}/notes`, { body: SECRET }), 201);
    // Steps after the note, so events written after it exist and are checked too.
    okData(await admin.post(`/complaints/${id}/claim`));
    okData(await consumer.post(`/complaints/${id}/messages`, { body: 'Any news?' }), 201);
    okData(await admin.post(`/complaints/${id}/messages`, { body: 'Soon' }), 201);

    const afterNote = okData(await consumer.get(`/complaints/${id}`));
    expect(afterNote.updated_at).not.toBe(beforeDetail.updated_at); // the claim changed it, the note did not
    const consumerReads = [
      `/complaints`,
      `/complaints/${id}`,
      ...['messages', 'evidence', 'settlements', 'followups', 'actions', 'social', 'events'].map(
        (p) => `/complaints/${id}/${p}`,
      ),
    ];
    for (const path of consumerReads) {
      const r = await consumer.get(path);
      expect(r.status, path).toBe(200);
      expect(JSON.stringify(r.body), path).not.toContain('INTERNAL-ONLY');
      expect(JSON.stringify(r.body), path).not.toContain('nte_');
    }
    expectError(await consumer.get(`/complaints/${id}/notes`), 404, 'not_found');

    const events = await t.store.db.selectFrom('events').select(['name', 'body']).execute();
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(e.body, e.name).not.toContain('INTERNAL-ONLY');
    const delivered = await t.store.db
      .selectFrom('deliveries')
      .innerJoin('events', 'events.id', 'deliveries.event_id')
      .select('events.body')
      .where('deliveries.endpoint_id', '=', endpoint.id)
      .execute();
    expect(delivered.length).toBeGreaterThan(0);
    for (const d of delivered) expect(d.body).not.toContain('INTERNAL-ONLY');

    // Staff see it.
    expect(okData(await admin.get(`/complaints/${id}/notes`)).map((n: { body: string }) => n.body)).toContain(SECRET);
  });

  it('a note alone leaves the complaint exactly as it was', async () => {
    const other = await fileComplaint(t, tenant.consumerToken);
    const row = () =>
      t.store.db.selectFrom('complaints').selectAll().where('escalatr_id', '=', other).executeTakeFirstOrThrow();
    const before = await row();
    t.clock.advance(60_000);
    okData(await admin.post(`/complaints/${other}/notes`, { body: 'Resolved or not, this is internal' }), 201);
    expect(await row()).toEqual(before);
  });
});
