import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/harness.js';
import { setSlaSettings } from '../../src/domain/sla.js';
import {
  countEvents,
  eventsOf,
  expectEnvelope,
  fileComplaint,
  okData,
  seedCompany,
  type Tenant,
  companyScene,
  consumerApi,
  type ConsumerApi,
  type StaffApi,
} from './complaint-fixtures.js';

const HOUR = 3600_000;

/** The SLA scheduler, driven by a manual clock: windows, what stops them, company settings, action waits. */
describe('SLA scheduler', () => {
  let t: TestApp, tenant: Tenant, consumer: ConsumerApi, staff: StaffApi;

  beforeEach(async () => {
    ({ t, tenant, consumer, staff } = await companyScene());
  });
  afterEach(async () => t.close());

  const detail = async (id: string) => okData(await consumer.get(`/complaints/${id}`));

  it('escalates with auto_sla when the window passes with no staff response, and starts the next window', async () => {
    const filedAt = t.clock.now();
    const id = await fileComplaint(t, tenant.consumerToken);
    expect((await detail(id)).sla_due_at).toBe(new Date(filedAt + 72 * HOUR).toISOString());

    t.clock.advance(72 * HOUR - 1);
    expect(await t.app.scheduler.tick()).toBe(0);
    expect((await detail(id)).is_overdue).toBe(false);

    t.clock.advance(1);
    expect((await detail(id)).is_overdue).toBe(true);
    const listed = okData(await consumer.get('/complaints'));
    expect(listed[0].is_overdue).toBe(true);

    expect(await t.app.scheduler.tick()).toBe(1);
    const after = await detail(id);
    expect(after).toMatchObject({
      escalation_level: 'L2',
      status: 'Escalated',
      stage: 'Escalation',
      is_overdue: false,
    });
    expect(after.sla_due_at).toBe(new Date(t.clock.now() + 48 * HOUR).toISOString());

    const escalated = (await eventsOf(t.store.db, id)).filter((e) => e.name === 'complaint.escalated');
    expect(escalated).toHaveLength(1);
    expectEnvelope(escalated[0]);
    expect(escalated[0].body.data).toEqual({
      escalatr_id: id,
      status: 'Escalated',
      escalation_level: 'L2',
      complaint_category: 'Consumer Durables',
      priority: 'high',
      to_level: 'L2',
      trigger: 'auto_sla',
    });

    // Nothing more is due until the new window passes; then it moves again.
    expect(await t.app.scheduler.tick()).toBe(0);
    t.clock.advance(48 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect((await detail(id)).escalation_level).toBe('L3');
  });

  it('a tick escalates one level at a time, however late it runs', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(1000 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect((await detail(id)).escalation_level).toBe('L2');
  });

  for (const [name, respond] of [
    ['a claim', (id: string) => staff.post(`/complaints/${id}/claim`)],
    ['a staff message', (id: string) => staff.post(`/complaints/${id}/messages`, { body: 'Looking into it' })],
    [
      'a settlement offer',
      (id: string) => staff.post(`/complaints/${id}/settlements`, { amount: 10, currency: 'INR', terms: 'Voucher' }),
    ],
    ['a follow-up question', (id: string) => staff.post(`/complaints/${id}/followups`, { question: 'Serial number?' })],
  ] as const) {
    it(`${name} is a staff response: it stops the clock`, async () => {
      const id = await fileComplaint(t, tenant.consumerToken);
      t.clock.advance(HOUR);
      const r = await respond(id);
      expect(r.status).toBeLessThan(300);
      t.clock.advance(500 * HOUR);
      expect(await t.app.scheduler.tick()).toBe(0);
      expect(await detail(id)).toMatchObject({ escalation_level: 'L1', is_overdue: false, sla_due_at: null });
    });
  }

  it('completion is a staff response: it stops the clock of the level the consumer escalated to', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    okData(await staff.post(`/complaints/${id}/claim`));
    okData(await consumer.post(`/complaints/${id}/escalate`));
    expect((await detail(id)).sla_due_at).not.toBeNull();
    t.clock.advance(HOUR);
    okData(await staff.post(`/complaints/${id}/complete`, { resolution_notes: 'Fixed' }));
    t.clock.advance(500 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(0);
    expect(await detail(id)).toMatchObject({ escalation_level: 'L2', is_overdue: false, sla_due_at: null });
  });

  it('a consumer message is not a staff response', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    okData(await consumer.post(`/complaints/${id}/messages`, { body: 'Hello?' }), 201);
    t.clock.advance(72 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
  });

  it('a manual escalation after a staff response starts a new window', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    okData(await staff.post(`/complaints/${id}/claim`));
    okData(await consumer.post(`/complaints/${id}/escalate`));
    t.clock.advance(48 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect((await detail(id)).escalation_level).toBe('L3');
  });

  it('resolved, withdrawn and L9 complaints are never escalated', async () => {
    const resolved = await fileComplaint(t, tenant.consumerToken);
    const withdrawn = await fileComplaint(t, tenant.consumerToken);
    const top = await fileComplaint(t, tenant.consumerToken);
    okData(await consumer.post(`/complaints/${resolved}/resolve`, { resolution_type: 'refund' }));
    okData(await consumer.post(`/complaints/${withdrawn}/withdraw`, { reason_code: 'x' }));
    for (let i = 0; i < 8; i++) okData(await consumer.post(`/complaints/${top}/escalate`));
    t.clock.advance(1000 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(0);
    expect((await detail(resolved)).is_overdue).toBe(false);
    expect((await detail(top)).is_overdue).toBe(true);
  });

  it("uses the company's configured windows, falling back to the defaults for levels left out", async () => {
    await setSlaSettings(t.app.ctx, tenant.company.id, { windows: { L1: 600, L2: 1200 } });
    const id = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(600_000);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect((await detail(id)).sla_due_at).toBe(new Date(t.clock.now() + 1_200_000).toISOString());
    t.clock.advance(1_200_000);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect((await detail(id)).sla_due_at).toBe(new Date(t.clock.now() + 36 * HOUR).toISOString());
  });

  it('another company keeps the defaults', async () => {
    const other = await seedCompany(t, { code: 'ACME' });
    await setSlaSettings(t.app.ctx, other.company.id, { windows: { L1: 600 } });
    const id = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(600_000);
    expect(await t.app.scheduler.tick()).toBe(0);
    expect((await detail(id)).escalation_level).toBe('L1');
  });

  it("one company's complaint that cannot be processed is set aside; every other company's windows go on", async () => {
    const other = await seedCompany(t, { code: 'ACME' });
    const broken = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(1000);
    const healthy = await fileComplaint(t, other.consumerToken, { company_code: 'ACME' });
    const healthyLevel = async () =>
      okData(await consumerApi(t, other.consumerToken).get(`/complaints/${healthy}`)).escalation_level;
    // The first company's stored calendar cannot be read (a row damaged outside the API): its complaint, first in the
    // due order, fails every time it is processed.
    const setCalendar = (json: string | null) =>
      t.store.db.updateTable('companies').set({ sla_calendar: json }).where('id', '=', tenant.company.id).execute();
    await setCalendar('{"time_zone":');
    t.clock.advance(72 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect(await healthyLevel()).toBe('L2');
    expect((await detail(broken)).escalation_level).toBe('L1');
    // Set aside: not tried again for a minute, then tried (and set aside again while it still fails).
    t.clock.advance(48 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect(await healthyLevel()).toBe('L3');
    await setCalendar(null);
    expect(await t.app.scheduler.tick()).toBe(0);
    t.clock.advance(60_000);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect((await detail(broken)).escalation_level).toBe('L2');
  });

  describe('action waits', () => {
    beforeEach(async () => {
      // A long level window, so only the action wait can fire.
      await setSlaSettings(t.app.ctx, tenant.company.id, {
        windows: { L1: 30 * 24 * 3600, L2: 30 * 24 * 3600 },
        action_wait_s: 3600,
      });
    });

    it('escalates with auto_action_wait when a drafted action goes unanswered past its wait, once per draft', async () => {
      const id = await fileComplaint(t, tenant.consumerToken);
      okData(await consumer.post(`/complaints/${id}/actions`, { kind: 'ombudsman', body: 'Notice' }), 201);
      t.clock.advance(HOUR - 1);
      expect(await t.app.scheduler.tick()).toBe(0);
      t.clock.advance(1);
      expect(await t.app.scheduler.tick()).toBe(1);
      const escalated = (await eventsOf(t.store.db, id)).filter((e) => e.name === 'complaint.escalated');
      expect(escalated.map((e) => e.body.data)).toEqual([
        {
          escalatr_id: id,
          status: 'Escalated',
          escalation_level: 'L2',
          complaint_category: 'Consumer Durables',
          priority: 'high',
          to_level: 'L2',
          trigger: 'auto_action_wait',
        },
      ]);
      t.clock.advance(10 * HOUR);
      expect(await t.app.scheduler.tick()).toBe(0);
      expect((await detail(id)).escalation_level).toBe('L2');
    });

    it('a filed action still waits for the company', async () => {
      const id = await fileComplaint(t, tenant.consumerToken);
      const draft = okData(
        await consumer.post(`/complaints/${id}/actions`, { kind: 'ombudsman', body: 'Notice' }),
        201,
      );
      okData(await consumer.post(`/complaints/${id}/actions/${draft.draft_id}/file`));
      t.clock.advance(HOUR);
      expect(await t.app.scheduler.tick()).toBe(1);
    });

    it('a staff response after the draft answers it', async () => {
      const id = await fileComplaint(t, tenant.consumerToken);
      okData(await consumer.post(`/complaints/${id}/actions`, { kind: 'ombudsman', body: 'Notice' }), 201);
      t.clock.advance(60_000);
      okData(await staff.post(`/complaints/${id}/messages`, { body: 'We will respond formally' }), 201);
      t.clock.advance(2 * HOUR);
      expect(await t.app.scheduler.tick()).toBe(0);
      expect(await countEvents(t.store.db, 'complaint.escalated')).toBe(0);
    });

    it('a staff response before the draft does not answer it', async () => {
      const id = await fileComplaint(t, tenant.consumerToken);
      okData(await staff.post(`/complaints/${id}/claim`));
      t.clock.advance(60_000);
      okData(await consumer.post(`/complaints/${id}/actions`, { kind: 'ombudsman', body: 'Notice' }), 201);
      t.clock.advance(HOUR);
      expect(await t.app.scheduler.tick()).toBe(1);
    });

    it('a draft on a complaint closed meanwhile settles without escalating', async () => {
      const id = await fileComplaint(t, tenant.consumerToken);
      okData(await consumer.post(`/complaints/${id}/actions`, { kind: 'ombudsman', body: 'Notice' }), 201);
      okData(await consumer.post(`/complaints/${id}/withdraw`, { reason_code: 'x' }));
      t.clock.advance(HOUR);
      expect(await t.app.scheduler.tick()).toBe(0);
      const draft = await t.store.db.selectFrom('action_drafts').select('wait_escalated_at').executeTakeFirstOrThrow();
      expect(draft.wait_escalated_at).toBe(t.clock.now());
    });
  });
});
