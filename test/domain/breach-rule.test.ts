import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import { session } from '../api/platform-fixtures.js';
import {
  consumerApi,
  eventsOf,
  expectError,
  fileComplaint,
  okData,
  seedCompany,
  staffApi,
  type Tenant,
} from './complaint-fixtures.js';

const HOUR = 3600_000;

/** The company's breach rule, applied by the scheduler with a manual clock: reassign and/or flag, in the timeline. */
describe('Breach rule', () => {
  let t: TestApp;
  let tenant: Tenant;
  let admin: ReturnType<typeof staffApi>;

  beforeEach(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    admin = staffApi(t, tenant.adminKey);
    for (const [role, email] of [
      ['agent', 'ana@volt.test'],
      ['agent', 'ben@volt.test'],
      ['viewer', 'vic@volt.test'],
    ] as const)
      await session(t, tenant.company.id, role, email);
  });
  afterEach(async () => t.close());

  // Warnings come before each breach; these tests are about what follows it.
  const timeline = async (id: string) =>
    (await eventsOf(t.store.db, id)).filter((e) => e.name !== 'complaint.sla_warning');
  const namesOf = async (id: string) => (await timeline(id)).map((e) => e.name);

  it('by default a breach writes no assignment and no flag', async () => {
    expect(okData(await admin.get('/settings/breach-rule'))).toEqual({ reassign: 'none', assignee: null, flag: false });
    const id = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(72 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect(await namesOf(id)).toEqual(['complaint.created', 'complaint.sla_breached', 'complaint.escalated']);
    expect(okData(await admin.get(`/complaints/${id}`)).flagged_at).toBeNull();
  });

  it('reassigns to the least-loaded agent other than the holder and flags, right after the breach and escalation', async () => {
    okData(await admin.put('/settings/breach-rule', { reassign: 'least_loaded', assignee: null, flag: true }));
    const late = await fileComplaint(t, tenant.consumerToken);
    okData(await admin.post(`/complaints/${late}/assign`, { assignee: 'ana@volt.test' }));
    t.clock.advance(HOUR);
    // Filed an hour later: still inside its window when the first one breaches; ana holds two, ben none.
    const other = await fileComplaint(t, tenant.consumerToken);
    okData(await admin.post(`/complaints/${other}/assign`, { assignee: 'ana@volt.test' }));
    t.clock.advance(71 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);

    const events = await timeline(late);
    expect(events.map((e) => e.name)).toEqual([
      'complaint.created',
      'complaint.assigned',
      'complaint.sla_breached',
      'complaint.escalated',
      'complaint.assigned',
      'complaint.flagged',
    ]);
    expect(events[4]!.body.data).toMatchObject({
      assigned_to: 'ben@volt.test',
      assigned_by: 'breach_rule',
      previous_assignee: 'ana@volt.test',
      escalation_level: 'L2',
    });
    expect(events[5]!.body.data).toMatchObject({ flagged_by: 'breach_rule', reason: 'sla_breached', level: 'L1' });

    const detail = okData(await admin.get(`/complaints/${late}`));
    expect(detail).toMatchObject({ claimed_by: 'ben@volt.test', escalation_level: 'L2' });
    expect(detail.flagged_at).toBe(new Date(t.clock.now()).toISOString());
    // The consumer does not see the company's flag.
    expect(okData(await consumerApi(t, tenant.consumerToken).get(`/complaints/${late}`)).flagged_at).toBeNull();

    expect(okData(await admin.get('/complaints?flagged=true')).map((c: any) => c.escalatr_id)).toEqual([late]);
    expect(okData(await admin.get('/complaints?flagged=false')).map((c: any) => c.escalatr_id)).toEqual([other]);
    expect((await admin.get('/complaints?flagged=true')).body.total).toBe(1);
    expectError(await admin.get('/complaints?flagged=yes'), 400, 'invalid_query');
  });

  it('reassigns to a named user, and skips one who already holds it', async () => {
    okData(await admin.put('/settings/breach-rule', { reassign: 'user', assignee: 'Ben@Volt.test', flag: false }));
    expect(okData(await admin.get('/settings/breach-rule'))).toEqual({
      reassign: 'user',
      assignee: 'ben@volt.test',
      flag: false,
    });
    const id = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(72 * HOUR);
    await t.app.scheduler.tick();
    const assigned = (await eventsOf(t.store.db, id)).filter((e) => e.name === 'complaint.assigned');
    expect(assigned.map((e) => e.body.data.assigned_to)).toEqual(['ben@volt.test']);
    // The next breach finds ben holding it already: nothing more is written.
    t.clock.advance(48 * HOUR);
    await t.app.scheduler.tick();
    expect((await eventsOf(t.store.db, id)).filter((e) => e.name === 'complaint.assigned')).toHaveLength(1);
    expect(await namesOf(id)).not.toContain('complaint.flagged');
  });

  it('refuses unknown people, viewers, another company’s users and read keys, changing nothing', async () => {
    const acme = await seedCompany(t, { code: 'ACME' });
    await session(t, acme.company.id, 'agent', 'zed@acme.test');
    const rule = { reassign: 'least_loaded', assignee: null, flag: true };
    okData(await admin.put('/settings/breach-rule', rule));
    expectError(
      await admin.put('/settings/breach-rule', { reassign: 'user', assignee: 'nobody@volt.test', flag: true }),
      404,
      'assignee_not_found',
    );
    expectError(
      await admin.put('/settings/breach-rule', { reassign: 'user', assignee: 'zed@acme.test', flag: true }),
      404,
      'assignee_not_found',
    );
    expectError(
      await admin.put('/settings/breach-rule', { reassign: 'user', assignee: 'vic@volt.test', flag: true }),
      409,
      'assignee_cannot_work',
    );
    expectError(
      await admin.put('/settings/breach-rule', { reassign: 'none', assignee: 'ben@volt.test', flag: true }),
      400,
      'validation_failed',
    );
    expectError(
      await admin.put('/settings/breach-rule', { reassign: 'all', assignee: null, flag: true }),
      400,
      'validation_failed',
    );
    expectError(await staffApi(t, tenant.readKey).put('/settings/breach-rule', rule), 403, 'insufficient_scope');
    expect(okData(await admin.get('/settings/breach-rule'))).toEqual(rule);
    // Another company's rule is its own.
    expect(okData(await staffApi(t, acme.adminKey).get('/settings/breach-rule'))).toEqual({
      reassign: 'none',
      assignee: null,
      flag: false,
    });
  });
});
