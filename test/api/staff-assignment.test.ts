import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import { session } from './platform-fixtures.js';
import {
  call,
  consumerApi,
  eventsOf,
  expectError,
  fileComplaint,
  okData,
  seedCompany,
  snapshot,
  staffApi,
  type Tenant,
} from '../domain/complaint-fixtures.js';

/** Admins assign and reassign complaints to their company's staff; agents list theirs with ?assignee=me. */
describe('Platform API: assignment', () => {
  let t: TestApp;
  let tenant: Tenant;
  let acme: Tenant;
  let admin: ReturnType<typeof staffApi>;
  let ana: Awaited<ReturnType<typeof session>>;
  let ben: Awaited<ReturnType<typeof session>>;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    acme = await seedCompany(t, { code: 'ACME' });
    admin = staffApi(t, tenant.adminKey);
    ana = await session(t, tenant.company.id, 'agent', 'ana@volt.test');
    ben = await session(t, tenant.company.id, 'agent', 'ben@volt.test');
  });
  afterAll(async () => t.close());

  const as = (who: { withCsrf: Record<string, string>; cookie: Record<string, string> }) => ({
    get: (path: string) => call(t, { method: 'GET', url: `/api/v1${path}`, headers: who.cookie }),
    post: (path: string, payload?: object) =>
      call(t, { method: 'POST', url: `/api/v1${path}`, headers: who.withCsrf, ...(payload ? { payload } : {}) }),
  });

  it('assigns, reassigns, writes complaint.assigned each time, and keeps the response window running', async () => {
    const hook = okData(
      await admin.post('/webhooks', { url: 'http://127.0.0.1:9/a', events: ['complaint.assigned'] }),
      201,
    );
    const id = await fileComplaint(t, tenant.consumerToken);
    const due = okData(await admin.get(`/complaints/${id}`)).sla_due_at;
    expect(okData(await admin.post(`/complaints/${id}/assign`, { assignee: 'Ana@Volt.test' }))).toMatchObject({
      claimed_by: 'ana@volt.test',
      sla_due_at: due,
    });
    okData(await admin.post(`/complaints/${id}/assign`, { assignee: 'ben@volt.test' }));
    const assigned = (await eventsOf(t.store.db, id)).filter((e) => e.name === 'complaint.assigned');
    expect(assigned.map((e) => e.body.data)).toEqual([
      {
        escalatr_id: id,
        status: 'Open',
        escalation_level: 'L1',
        complaint_category: 'Consumer Durables',
        priority: 'high',
        assigned_to: 'ana@volt.test',
        assigned_by: 'api-key:admin',
        previous_assignee: null,
      },
      {
        escalatr_id: id,
        status: 'Open',
        escalation_level: 'L1',
        complaint_category: 'Consumer Durables',
        priority: 'high',
        assigned_to: 'ben@volt.test',
        assigned_by: 'api-key:admin',
        previous_assignee: 'ana@volt.test',
      },
    ]);
    // In the timeline, and delivered to the endpoint that subscribed.
    const timeline = okData(await admin.get(`/complaints/${id}/events`)).map((e: { event: string }) => e.event);
    expect(timeline.filter((n: string) => n === 'complaint.assigned')).toHaveLength(2);
    const deliveries = await t.store.db
      .selectFrom('deliveries')
      .select('id')
      .where('endpoint_id', '=', hook.id)
      .execute();
    expect(deliveries).toHaveLength(2);

    // The assignee works it like a claim: completing needs no claim of their own.
    okData(await as(ben).post(`/complaints/${id}/complete`, { resolution_notes: 'Replaced' }));
  });

  it('agents see theirs with ?assignee=me; claiming is assigning yourself; ?assignee=none lists the unheld', async () => {
    const other = await seedCompany(t, { code: 'MINE' });
    const otherAdmin = staffApi(t, other.adminKey);
    const carl = await session(t, other.company.id, 'agent', 'carl@mine.test');
    const dana = await session(t, other.company.id, 'agent', 'dana@mine.test');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push(await fileComplaint(t, other.consumerToken, { company_code: 'MINE' }));
      t.clock.advance(1000);
    }
    okData(await otherAdmin.post(`/complaints/${ids[0]}/assign`, { assignee: 'carl@mine.test' }));
    okData(await as(carl).post(`/complaints/${ids[2]}/claim`));
    okData(await otherAdmin.post(`/complaints/${ids[3]}/assign`, { assignee: 'dana@mine.test' }));

    const mine = await as(carl).get('/complaints?assignee=me');
    expect(okData(mine).map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual([ids[2], ids[0]]);
    expect(mine.body.total).toBe(2);
    expect(
      okData(await as(dana).get('/complaints?assignee=me')).map((c: { escalatr_id: string }) => c.escalatr_id),
    ).toEqual([ids[3]]);
    const none = await as(carl).get('/complaints?assignee=none');
    expect(okData(none).map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual([ids[1]]);
    expect(none.body.total).toBe(1);
    expect((await as(carl).get('/complaints?assignee=me&status=Resolved')).body.total).toBe(0);
    const paged = await as(carl).get('/complaints?assignee=me&limit=1&page=2');
    expect(okData(paged).map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual([ids[0]]);
    expectError(await as(carl).get('/complaints?assignee=carl'), 400, 'invalid_query');
  });

  it('refuses other companies, unknown people, viewers, agents and closed complaints, changing nothing', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    const closed = await fileComplaint(t, tenant.consumerToken);
    okData(await consumerApi(t, tenant.consumerToken).post(`/complaints/${closed}/withdraw`, { reason_code: 'x' }));
    const completed = await fileComplaint(t, tenant.consumerToken);
    okData(await admin.post(`/complaints/${completed}/claim`));
    okData(await admin.post(`/complaints/${completed}/complete`, { resolution_notes: 'Done' }));
    okData(await admin.post(`/complaints/${id}/assign`, { assignee: 'ana@volt.test' }));
    const viewer = await session(t, tenant.company.id, 'viewer', 'vic@volt.test');
    const acmeAgent = await session(t, acme.company.id, 'agent', 'zed@acme.test');
    const before = await snapshot(t.store.db);

    for (const assignee of ['zed@acme.test', 'nobody@volt.test', 'not an email'])
      expectError(await admin.post(`/complaints/${id}/assign`, { assignee }), 404, 'assignee_not_found');
    expectError(
      await admin.post(`/complaints/${id}/assign`, { assignee: 'vic@volt.test' }),
      409,
      'assignee_cannot_work',
    );
    expectError(await admin.post(`/complaints/${id}/assign`, { assignee: 'ana@volt.test' }), 409, 'already_claimed');
    expectError(
      await admin.post(`/complaints/${closed}/assign`, { assignee: 'ana@volt.test' }),
      409,
      'invalid_transition',
    );
    expectError(
      await admin.post(`/complaints/${completed}/assign`, { assignee: 'ana@volt.test' }),
      409,
      'already_completed',
    );
    // Another company's complaint is missing, whoever the assignee.
    expectError(
      await staffApi(t, acme.adminKey).post(`/complaints/${id}/assign`, { assignee: 'zed@acme.test' }),
      404,
      'not_found',
    );
    expectError(await as(ana).post(`/complaints/${id}/assign`, { assignee: 'ben@volt.test' }), 403, 'forbidden');
    expectError(await as(viewer).post(`/complaints/${id}/assign`, { assignee: 'ben@volt.test' }), 403, 'forbidden');
    expectError(
      await staffApi(t, tenant.readKey).post(`/complaints/${id}/assign`, { assignee: 'ben@volt.test' }),
      403,
      'insufficient_scope',
    );
    expectError(await as(acmeAgent).post(`/complaints/${id}/assign`, { assignee: 'zed@acme.test' }), 403, 'forbidden');
    for (const body of [
      {},
      { assignee: '' },
      { assignee: 42 },
      { assignee: 'ben@volt.test', extra: 1 },
      { assignee: 'x'.repeat(321) },
    ])
      expectError(await admin.post(`/complaints/${id}/assign`, body), 400, 'validation_failed');
    expect(await snapshot(t.store.db)).toEqual(before);
  });
});
