import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import * as steps from '../../src/domain/complaint-steps.js';
import {
  consumerApi,
  countEvents,
  fileComplaint,
  okData,
  seedCompany,
  snapshot,
  type Tenant,
} from './complaint-fixtures.js';

/**
 * "Same transaction": a step's change, its records and its event commit together or not at all. The event insert is
 * made to fail by taking the event's (company, seq) slot first; the unique index then refuses the event row, and
 * the complaint change written just before it in the same transaction must disappear with it.
 */
describe('a step and its event are one transaction', () => {
  let t: TestApp;
  let tenant: Tenant;
  let id: string;

  beforeEach(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    id = await fileComplaint(t, tenant.consumerToken);
  });
  afterEach(async () => t.close());

  /** Occupies the next event sequence number of the company, so the next event insert hits the unique index. */
  async function blockNextEvent(): Promise<() => Promise<void>> {
    const { event_seq } = await t.store.db
      .selectFrom('companies')
      .select('event_seq')
      .where('id', '=', tenant.company.id)
      .executeTakeFirstOrThrow();
    const blockerId = 'evt_blocker00000000000000';
    await t.store.db
      .insertInto('events')
      .values({
        id: blockerId,
        company_id: tenant.company.id,
        seq: Number(event_seq) + 1,
        name: 'webhook.test',
        complaint_id: null,
        body: '{}',
        delivery_status: 'none',
        created_at: t.clock.now(),
      })
      .execute();
    return async () => {
      await t.store.db.deleteFrom('events').where('id', '=', blockerId).execute();
    };
  }

  it('a consumer step whose event cannot be written leaves the complaint unchanged', async () => {
    const unblock = await blockNextEvent();
    const before = await snapshot(t.store.db);
    const actor = { kind: 'consumer' as const, consumerId: tenant.consumer.id, email: tenant.consumer.email };
    await expect(steps.escalate(t.app.ctx, actor, id)).rejects.toThrow();
    await expect(steps.postMessage(t.app.ctx, actor, id, { body: 'hello' })).rejects.toThrow();
    await expect(steps.resolve(t.app.ctx, actor, id, { resolution_type: 'refund' })).rejects.toThrow();
    expect(await snapshot(t.store.db)).toEqual(before);

    await unblock();
    await steps.escalate(t.app.ctx, actor, id);
    const row = await t.store.db
      .selectFrom('complaints')
      .select(['level', 'status'])
      .where('escalatr_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ level: 2, status: 'Escalated' });
  });

  it('a failed step answers 500 over the API and writes nothing', async () => {
    const unblock = await blockNextEvent();
    const before = await snapshot(t.store.db);
    const r = await consumerApi(t, tenant.consumerToken).post(`/complaints/${id}/withdraw`, {
      reason_code: 'changed_mind',
    });
    expect(r.status).toBe(500);
    expect(r.body.error.code).toBe('internal');
    expect(await snapshot(t.store.db)).toEqual(before);
    await unblock();
  });

  it('filing whose event cannot be written takes no complaint number: the next filing has no gap', async () => {
    const unblock = await blockNextEvent();
    const r = await consumerApi(t, tenant.consumerToken).post('/complaints', {
      company_code: 'VOLT',
      complaint_category: 'c',
      title: 't',
      description: 'd',
    });
    expect(r.status).toBe(500);
    expect(await t.store.db.selectFrom('complaints').select('escalatr_id').execute()).toHaveLength(1);
    await unblock();
    const next = await fileComplaint(t, tenant.consumerToken);
    expect(next).toBe(id.replace(/00001$/, '00002'));
  });

  it('an automatic escalation whose event cannot be written stays due and happens once it is tried again', async () => {
    t.clock.advance(72 * 3600_000);
    const unblock = await blockNextEvent();
    // The failure is the complaint's alone: the pass goes on without it, and it is set aside for a minute.
    expect(await t.app.scheduler.tick()).toBe(0);
    const row = await t.store.db
      .selectFrom('complaints')
      .select(['level'])
      .where('escalatr_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.level).toBe(1);
    await unblock();
    expect(await t.app.scheduler.tick()).toBe(0);
    t.clock.advance(60_000);
    expect(await t.app.scheduler.tick()).toBe(1);
    expect(await countEvents(t.store.db, 'complaint.escalated')).toBe(1);
    expect(okData(await consumerApi(t, tenant.consumerToken).get(`/complaints/${id}`)).escalation_level).toBe('L2');
  });
});
