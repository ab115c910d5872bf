import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/runtime/app.js';
import { setSlaSettings } from '../../src/domain/sla.js';
import { createTestApp, dialectName, type TestApp } from '../helpers/harness.js';
import { consumerApi, fileComplaint, okData, seedCompany, type Tenant } from './complaint-fixtures.js';

const HOUR = 3600_000;

/**
 * Two processes' schedulers over one database ticking at the same moment: each due complaint is escalated exactly
 * once, by one of them. On PostgreSQL the second app has its own pool, as another process would. SQLite is one
 * process by design, so there both apps share the process's one handle: a second handle in the same thread would
 * wait for the first inside SQLite's busy handler, which blocks the very thread that holds the lock.
 */
describe('two schedulers over one database', () => {
  let t: TestApp;
  let second: App;
  let tenant: Tenant;

  beforeEach(async () => {
    t = await createTestApp();
    const store = dialectName === 'postgres' ? t.testStore.reopen() : t.store;
    second = await buildApp({ config: t.config, store, clock: t.clock, logger: false });
    tenant = await seedCompany(t);
  });
  afterEach(async () => {
    await second.scheduler.stop();
    await second.http.close();
    await t.close();
  });

  async function escalationsPerComplaint(): Promise<Map<string, string[]>> {
    const rows = await t.store.db
      .selectFrom('events')
      .select(['complaint_id', 'body'])
      .where('name', '=', 'complaint.escalated')
      .orderBy('seq')
      .execute();
    const out = new Map<string, string[]>();
    for (const r of rows)
      out.set(r.complaint_id!, [...(out.get(r.complaint_id!) ?? []), JSON.parse(r.body).data.trigger]);
    return out;
  }

  async function tickBoth(): Promise<number> {
    const [a, b] = await Promise.all([t.app.scheduler.tick(), second.scheduler.tick()]);
    // Nothing is left for a later tick: the two passes between them did everything due.
    expect((await t.app.scheduler.tick()) + (await second.scheduler.tick())).toBe(0);
    return a + b;
  }

  it('escalate each overdue complaint exactly once per window', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await fileComplaint(t, tenant.consumerToken));

    t.clock.advance(72 * HOUR);
    expect(await tickBoth()).toBe(30);
    let perComplaint = await escalationsPerComplaint();
    expect([...perComplaint.keys()].sort()).toEqual([...ids].sort());
    for (const triggers of perComplaint.values()) expect(triggers).toEqual(['auto_sla']);

    t.clock.advance(48 * HOUR);
    expect(await tickBoth()).toBe(30);
    perComplaint = await escalationsPerComplaint();
    for (const triggers of perComplaint.values()) expect(triggers).toEqual(['auto_sla', 'auto_sla']);
    const levels = await t.store.db.selectFrom('complaints').select('level').execute();
    expect(levels.every((r) => Number(r.level) === 3)).toBe(true);
  });

  it('escalate each unanswered action exactly once', async () => {
    await setSlaSettings(t.app.ctx, tenant.company.id, {
      windows: { L1: 30 * 24 * 3600, L2: 30 * 24 * 3600 },
      action_wait_s: 3600,
    });
    const consumer = consumerApi(t, tenant.consumerToken);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const id = await fileComplaint(t, tenant.consumerToken);
      okData(await consumer.post(`/complaints/${id}/actions`, { kind: 'notice', body: 'b' }), 201);
      ids.push(id);
    }
    t.clock.advance(HOUR);
    expect(await tickBoth()).toBe(20);
    const perComplaint = await escalationsPerComplaint();
    expect(perComplaint.size).toBe(20);
    for (const triggers of perComplaint.values()) expect(triggers).toEqual(['auto_action_wait']);
    const marked = await t.store.db.selectFrom('action_drafts').select('wait_escalated_at').execute();
    expect(marked.every((d) => d.wait_escalated_at !== null)).toBe(true);
  });

  it('announce each warning and breach exactly once per level window', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await fileComplaint(t, tenant.consumerToken));
    const count = async (name: string) =>
      Number(
        (
          await t.store.db
            .selectFrom('events')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('name', '=', name)
            .executeTakeFirstOrThrow()
        ).n,
      );

    t.clock.advance(54 * HOUR); // three quarters of the L1 window
    expect(await tickBoth()).toBe(0);
    expect(await count('complaint.sla_warning')).toBe(20);
    expect(await count('complaint.sla_breached')).toBe(0);

    t.clock.advance(18 * HOUR);
    expect(await tickBoth()).toBe(20);
    expect(await count('complaint.sla_warning')).toBe(20);
    expect(await count('complaint.sla_breached')).toBe(20);
    const levels = await t.store.db
      .selectFrom('events')
      .select('body')
      .where('name', 'in', ['complaint.sla_warning', 'complaint.sla_breached'])
      .execute();
    expect(levels.every((r) => JSON.parse(r.body).data.level === 'L1')).toBe(true);

    // The L2 window is a new one: its own warning, once.
    t.clock.advance(36 * HOUR);
    expect(await tickBoth()).toBe(0);
    expect(await count('complaint.sla_warning')).toBe(40);
  });
});
