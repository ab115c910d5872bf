import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transact } from '../../src/domain/context.js';
import { emitEvent } from '../../src/domain/events.js';
import { createCompany, setCompanyPlan } from '../../src/domain/companies.js';
import { DAY_MS, setRetentionByCode } from '../../src/domain/retention.js';
import { RetentionPruner } from '../../src/domain/retention-pruner.js';
import { newId } from '../../src/ids.js';
import { createTestApp, dialectName, type TestApp } from '../helpers/harness.js';
import { call, endpointRow, expectError, file, get, session, tenant, type Tenant } from './platform-fixtures.js';

/** One event of the company, now on the test clock; with a complaint id it belongs to that complaint's timeline. */
async function emit(t: TestApp, v: Tenant, complaintId: string | null = null): Promise<string> {
  return transact(t.app.ctx, async (work) => {
    const e = await emitEvent(t.app.ctx, work, {
      companyId: v.company.id,
      name: complaintId ? 'message.new' : 'webhook.test',
      complaintId,
      data: { escalatr_id: complaintId, note: 'retention' },
    });
    return e.id;
  });
}

/** Every delivery of the event settles as `success`, with one attempt row each (as the worker would leave it). */
async function settle(t: TestApp, eventId: string): Promise<void> {
  const deliveries = await t.store.db
    .selectFrom('deliveries')
    .select(['id', 'company_id'])
    .where('event_id', '=', eventId)
    .execute();
  for (const d of deliveries) {
    await t.store.db
      .updateTable('deliveries')
      .set({ status: 'success', attempt_count: 1, next_attempt_at: null, last_status_code: 200 })
      .where('id', '=', d.id)
      .execute();
    await t.store.db
      .insertInto('attempts')
      .values({
        id: newId('att'),
        delivery_id: d.id,
        company_id: d.company_id,
        n: 1,
        started_at: t.clock.now(),
        duration_ms: 5,
        status_code: 200,
        error_kind: null,
        error_message: null,
        response_excerpt: 'ok',
      })
      .execute();
  }
}

async function feedbackRecord(t: TestApp, v: Tenant): Promise<string> {
  const id = newId('fb');
  await t.store.db
    .insertInto('feedback_records')
    .values({
      id,
      company_id: v.company.id,
      record_id: id,
      source: 'test',
      source_url: null,
      content: 'slow refund',
      thread_id: null,
      customer_id: null,
      source_created_at: null,
      received_at: t.clock.now(),
      scored_at: t.clock.now(),
      score_lease_until: null,
      escalation_level: null,
      emotional_intensity_level: null,
      sentiment_score: null,
      sentiment_shift: null,
      cues: null,
    })
    .execute();
  return id;
}

const exists = async (t: TestApp, table: 'events' | 'feedback_records', id: string) =>
  (await t.store.db.selectFrom(table).select('id').where('id', '=', id).executeTakeFirst()) !== undefined;

const deliveriesOf = async (t: TestApp, eventId: string) =>
  t.store.db.selectFrom('deliveries').select(['id', 'status']).where('event_id', '=', eventId).execute();

const attemptsOf = async (t: TestApp, eventId: string) =>
  t.store.db
    .selectFrom('attempts')
    .innerJoin('deliveries', 'deliveries.id', 'attempts.delivery_id')
    .select('attempts.id')
    .where('deliveries.event_id', '=', eventId)
    .execute();

describe('retention: what goes and what stays', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    t = await createTestApp();
    v = await tenant(t, 'VOLT');
    await t.app.ctx.store.db.updateTable('companies').set({ plan: 'starter' }).execute(); // 30 days
    await endpointRow(t, v.company.id);
  });
  afterEach(async () => t.close());

  it('removes rows just outside the window and keeps those just inside, unsettled deliveries and timelines', async () => {
    const complaint = await file(t, v);
    const start = t.clock.now();
    const outside = await emit(t, v);
    await settle(t, outside);
    const pending = await emit(t, v); // its delivery never settles in this test
    const timeline = await emit(t, v, complaint);
    await settle(t, timeline);
    const oldFeedback = await feedbackRecord(t, v);
    t.clock.advance(1);
    const inside = await emit(t, v);
    await settle(t, inside);
    const newFeedback = await feedbackRecord(t, v);

    // 30 days and 1 ms later the cutoff is `start + 1`: rows written at `start` are outside, at `start + 1` inside.
    t.clock.set(start + 30 * DAY_MS + 1);
    const report = await t.app.retention.run();
    expect(report.done).toBe(true);

    expect(await exists(t, 'events', outside)).toBe(false);
    expect(await deliveriesOf(t, outside)).toEqual([]);
    expect(await exists(t, 'events', inside)).toBe(true);
    expect(await deliveriesOf(t, inside)).toHaveLength(1);
    expect(await attemptsOf(t, inside)).toHaveLength(1);
    // Pending: the delivery and the event body it needs stay.
    expect(await exists(t, 'events', pending)).toBe(true);
    expect((await deliveriesOf(t, pending)).map((d) => d.status)).toEqual(['pending']);
    // The complaint's timeline event stays (its deliveries and attempts go), and so does the complaint.
    expect(await exists(t, 'events', timeline)).toBe(true);
    expect(await deliveriesOf(t, timeline)).toEqual([]);
    expect(await attemptsOf(t, timeline)).toEqual([]);
    const viewer = (await session(t, v.company.id, 'viewer')).cookie;
    const events = await get(t, `/complaints/${complaint}/events`, viewer);
    expect(events.body.data.map((e: { id: string }) => e.id)).toContain(timeline);
    expect((await get(t, `/complaints/${complaint}`, viewer)).status).toBe(200);
    expect(await exists(t, 'feedback_records', oldFeedback)).toBe(false);
    expect(await exists(t, 'feedback_records', newFeedback)).toBe(true);
    expect(report.pruned.events).toBe(1);
    expect(report.pruned.feedback_records).toBe(1);

    // The pending delivery settles: the next run removes it, its attempt and its event.
    await settle(t, pending);
    const later = await t.app.retention.run();
    expect(later.pruned).toMatchObject({ events: 1, deliveries: 1, attempts: 1 });
    expect(await exists(t, 'events', pending)).toBe(false);
    expect(await t.store.db.selectFrom('retention_held').selectAll().where('event_id', '=', pending).execute()).toEqual(
      [],
    );
  });

  it('keeps a delivery that is leased, even with a settled status', async () => {
    const start = t.clock.now();
    const leased = await emit(t, v);
    await settle(t, leased);
    await t.store.db
      .updateTable('deliveries')
      .set({ lease_until: start + 365 * DAY_MS })
      .where('event_id', '=', leased)
      .execute();
    t.clock.set(start + 31 * DAY_MS);
    await t.app.retention.run();
    expect(await deliveriesOf(t, leased)).toHaveLength(1);
    expect(await exists(t, 'events', leased)).toBe(true);
  });

  it.skipIf(dialectName !== 'postgres')(
    'on PostgreSQL, a settled delivery another transaction has locked is kept, not waited for',
    async () => {
      const start = t.clock.now();
      const busy = await emit(t, v);
      await settle(t, busy);
      t.clock.set(start + 31 * DAY_MS);
      await t.store.db.transaction().execute(async (tx) => {
        await tx.selectFrom('deliveries').select('id').where('event_id', '=', busy).forUpdate().execute();
        await t.app.retention.run();
      });
      expect(await deliveriesOf(t, busy)).toHaveLength(1);
      expect(await exists(t, 'events', busy)).toBe(true);
      await t.app.retention.run();
      expect(await deliveriesOf(t, busy)).toEqual([]);
      expect(await exists(t, 'events', busy)).toBe(false);
    },
  );

  it('a shorter window set by the owner applies at the next run; other companies keep their own', async () => {
    const acme = await tenant(t, 'ACME');
    await t.app.ctx.store.db.updateTable('companies').set({ plan: 'starter' }).execute();
    const start = t.clock.now();
    const mine = await emit(t, v);
    await settle(t, mine);
    const theirs = await emit(t, acme);
    t.clock.set(start + 2 * DAY_MS);
    const owner = await session(t, v.company.id, 'owner');
    const put = await call(t, {
      method: 'PUT',
      url: '/api/v1/settings/retention',
      headers: owner.withCsrf,
      payload: { days: 1 },
    });
    expect(put.status).toBe(200);
    await t.app.retention.run();
    expect(await exists(t, 'events', mine)).toBe(false);
    expect(await exists(t, 'events', theirs)).toBe(true);
  });

  it("removes Shield alert keys older than the window, keeping newer ones and another company's", async () => {
    const acme = await tenant(t, 'ACME');
    await t.app.ctx.store.db
      .updateTable('companies')
      .set({ plan: 'enterprise' })
      .where('id', '=', acme.company.id)
      .execute();
    const start = t.clock.now();
    const key = (company: Tenant, tag: string) => ({
      key: `auto_${tag}:dst_${tag}:record-${tag}`,
      company_id: company.company.id,
      created_at: t.clock.now(),
    });
    await t.store.db
      .insertInto('shield_alert_keys')
      .values([key(v, 'old'), key(acme, 'theirs')])
      .execute();
    t.clock.set(start + 2 * DAY_MS);
    await t.store.db.insertInto('shield_alert_keys').values(key(v, 'new')).execute();
    t.clock.set(start + 31 * DAY_MS);
    const report = await t.app.retention.run();
    expect(report.pruned.shield_alert_keys).toBe(1);
    const left = await t.store.db.selectFrom('shield_alert_keys').select('key').orderBy('key').execute();
    expect(left.map((k) => k.key)).toEqual(['auto_new:dst_new:record-new', 'auto_theirs:dst_theirs:record-theirs']);
  });

  it("an operator's window in minutes removes what is older than those minutes; an owner's days replace it", async () => {
    const start = t.clock.now();
    const old = await emit(t, v);
    await settle(t, old);
    t.clock.advance(60_000);
    const recent = await emit(t, v);
    await settle(t, recent);
    await setRetentionByCode(t.app.ctx, v.company.code, { minutes: 2 });
    t.clock.set(start + 2 * 60_000 + 1);
    await t.app.retention.run();
    expect(await exists(t, 'events', old)).toBe(false);
    expect(await exists(t, 'events', recent)).toBe(true);
    const owner = await session(t, v.company.id, 'owner');
    const read = await call(t, { method: 'GET', url: '/api/v1/settings/retention', headers: owner.cookie });
    expect(read.body.data.days).toBe(1);
    const put = await call(t, {
      method: 'PUT',
      url: '/api/v1/settings/retention',
      headers: owner.withCsrf,
      payload: { days: 1 },
    });
    expect(put.status).toBe(200);
    t.clock.set(start + DAY_MS);
    await t.app.retention.run();
    expect(await exists(t, 'events', recent)).toBe(true);
  });

  it('removes held deliveries as they settle, reading only settled ones', async () => {
    const start = t.clock.now();
    const events: string[] = [];
    for (let i = 0; i < 30; i++) events.push(await emit(t, v)); // none settles yet
    t.clock.set(start + 31 * DAY_MS);
    const pruner = new RetentionPruner(t.app.ctx, { batchRows: 10 });
    await pruner.run();
    const held = async () =>
      (await t.store.db.selectFrom('retention_held').select('event_id').orderBy('delivery_id').execute()).map(
        (h) => h.event_id,
      );
    // Held in delivery id order (ids made in the same millisecond do not follow the events' order).
    const order = await held();
    expect([...order].sort()).toEqual([...events].sort());

    // Three settle, the last ones in that order: the held step finds them in one page (a batch holds three
    // deliveries with their attempts and held rows), without first reading a page per ten unsettled rows.
    for (const e of order.slice(27)) await settle(t, e);
    const report = await pruner.run();
    expect(report.pruned).toMatchObject({ deliveries: 3, attempts: 3, events: 3 });
    expect(report.timing.steps.held.transactions).toBe(1);
    expect(await held()).toEqual(order.slice(0, 27));
    for (const e of order.slice(27)) expect(await exists(t, 'events', e)).toBe(false);
    for (const e of order.slice(0, 27)) expect(await deliveriesOf(t, e)).toHaveLength(1);

    // More settled than a batch holds: several batches, all removed.
    for (const e of order.slice(0, 27)) await settle(t, e);
    const rest = await pruner.run();
    expect(rest.pruned).toMatchObject({ deliveries: 27, attempts: 27, events: 27 });
    expect(rest.timing.steps.held.transactions).toBeGreaterThan(1);
    expect(await held()).toEqual([]);
  });

  it('removes in batches of bounded size and makes progress across runs', async () => {
    const start = t.clock.now();
    await t.store.db.deleteFrom('endpoints').execute(); // events without deliveries: one row each
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push(await emit(t, v));
    for (let i = 0; i < 25; i++) await feedbackRecord(t, v);
    t.clock.set(start + 31 * DAY_MS);
    const pruner = new RetentionPruner(t.app.ctx, { batchRows: 10, maxBatchesPerRun: 2 });
    const removed = { events: 0, feedback_records: 0 };
    let runs = 0;
    for (;;) {
      const report = await pruner.run();
      runs++;
      expect(report.pruned.events + report.pruned.feedback_records).toBeLessThanOrEqual(20);
      removed.events += report.pruned.events;
      removed.feedback_records += report.pruned.feedback_records;
      if (report.done) break;
      expect(runs).toBeLessThan(20);
    }
    expect(runs).toBeGreaterThan(2);
    expect(removed).toEqual({ events: 25, feedback_records: 25 });
    for (const id of ids) expect(await exists(t, 'events', id)).toBe(false);
  });
});

describe("retention: a company's class of history", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(async () => t.close());

  const classOf = async (code: string) =>
    Number(
      (
        await t.store.db
          .selectFrom('companies')
          .select('history_class')
          .where('code', '=', code)
          .executeTakeFirstOrThrow()
      ).history_class,
    );

  it("is its plan's window's from creation, before any retention run, and its first delivery is written in it", async () => {
    const plans = { FREE: 'free', START: 'starter', PRO: 'professional', ENT: 'enterprise' } as const;
    for (const [code, plan] of Object.entries(plans)) await createCompany(t.app.ctx, { name: code, code, plan });
    expect(await Promise.all(Object.keys(plans).map(classOf))).toEqual([7, 30, 90, 365]);
    const pro = await t.store.db
      .selectFrom('companies')
      .select('id')
      .where('code', '=', 'PRO')
      .executeTakeFirstOrThrow();
    await endpointRow(t, pro.id);
    await transact(t.app.ctx, (work) =>
      emitEvent(t.app.ctx, work, { companyId: pro.id, name: 'webhook.test', data: {} }),
    );
    const delivery = await t.store.db
      .selectFrom('deliveries')
      .select('keep_days')
      .where('company_id', '=', pro.id)
      .executeTakeFirstOrThrow();
    expect(Number(delivery.keep_days)).toBe(90);
  });

  it("follows a plan change when the company keeps its plan's window, not when it chose its own", async () => {
    await createCompany(t.app.ctx, { name: 'Volt', code: 'VOLT', plan: 'starter' });
    await createCompany(t.app.ctx, { name: 'Acme', code: 'ACME', plan: 'starter' });
    await setRetentionByCode(t.app.ctx, 'ACME', { days: 7 });
    expect([await classOf('VOLT'), await classOf('ACME')]).toEqual([30, 7]);
    await setCompanyPlan(t.app.ctx, 'VOLT', 'enterprise');
    await setCompanyPlan(t.app.ctx, 'ACME', 'enterprise');
    expect([await classOf('VOLT'), await classOf('ACME')]).toEqual([365, 7]);
    // The retention step's own reckoning agrees.
    await t.app.retention.run();
    expect([await classOf('VOLT'), await classOf('ACME')]).toEqual([365, 7]);
    await expect(setCompanyPlan(t.app.ctx, 'NOPE', 'free')).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('retention: what operators see in /metrics', () => {
  let t: TestApp;
  afterEach(async () => t.close());

  it('shows the store size, rows pruned per table and run, and the oldest row per table', async () => {
    t = await createTestApp();
    const v = await tenant(t);
    const start = t.clock.now();
    await emit(t, v);
    await feedbackRecord(t, v);
    t.clock.advance(DAY_MS);
    await emit(t, v);
    t.clock.set(start + 90 * DAY_MS + 1);
    await t.app.retention.run();
    const text = (await t.app.http.inject({ method: 'GET', url: '/metrics' })).body;
    const value = (line: string) => Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('escalatr_store_bytes')).toBeGreaterThan(0);
    expect(value('escalatr_store_free_bytes')).toBeGreaterThanOrEqual(0);
    expect(value('escalatr_retention_rows_pruned_total\\{table="events"\\}')).toBe(1);
    expect(value('escalatr_retention_last_run_rows_pruned\\{table="feedback_records"\\}')).toBe(1);
    expect(value('escalatr_retention_runs_total\\{outcome="done"\\}')).toBe(1);
    expect(value('escalatr_store_oldest_row_timestamp_seconds\\{table="events"\\}')).toBe((start + DAY_MS) / 1000);
    expect(text).not.toMatch(/escalatr_store_oldest_row_timestamp_seconds\{table="feedback_records"\}/);
  });
});

describe('retention on SQLite: space is given back', () => {
  let t: TestApp;
  afterEach(async () => t.close());

  it.skipIf(dialectName !== 'sqlite')(
    'a new store is in incremental auto-vacuum mode and a run gives back free pages beyond a reserve of an eighth',
    async () => {
      t = await createTestApp();
      const v = await tenant(t);
      const mode = await sql<{ auto_vacuum: number }>`pragma auto_vacuum`.execute(t.store.db);
      expect(Number(mode.rows[0].auto_vacuum)).toBe(2);
      const start = t.clock.now();
      const big = 'x'.repeat(4000);
      for (let i = 0; i < 300; i++) {
        const id = await feedbackRecord(t, v);
        await t.store.db.updateTable('feedback_records').set({ content: big }).where('id', '=', id).execute();
      }
      const before = await t.store.profile.storeSize(t.store.db);
      t.clock.set(start + 91 * DAY_MS);
      const report = await t.app.retention.run();
      expect(report.pruned.feedback_records).toBe(300);
      const after = await t.store.profile.storeSize(t.store.db);
      expect(after.freeBytes).toBeLessThanOrEqual(after.bytes / 8);
      expect(after.bytes).toBeLessThan(before.bytes - 300 * 4000 * 0.5);
    },
  );
});

describe('retention: the event feed', () => {
  let t: TestApp;
  let v: Tenant;
  const read = () => ({ authorization: `Bearer ${v.readKey}` });
  beforeEach(async () => {
    t = await createTestApp();
    v = await tenant(t, 'VOLT', 'professional'); // 90 days
  });
  afterEach(async () => t.close());

  it('keeps total exact, starts after=start at the oldest kept event, and expires cursors before the window', async () => {
    const complaint = await file(t, v); // complaint.created: a timeline event
    const start = t.clock.now();
    const old = [await emit(t, v), await emit(t, v), await emit(t, v, complaint)];
    t.clock.advance(DAY_MS);
    const kept = [await emit(t, v), await emit(t, v, complaint), await emit(t, v)];
    const before = await get(t, '/events?after=start', read());
    expect(before.body.total).toBe(7);

    t.clock.set(start + 90 * DAY_MS + 1);
    await t.app.retention.run();

    const all = await get(t, '/events?limit=2', read());
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(3);
    const fromStart = await get(t, '/events?after=start&limit=2', read());
    expect(fromStart.body.data.map((e: { id: string }) => e.id)).toEqual(kept.slice(0, 2));
    expect(fromStart.body.total).toBe(3);
    const next = await get(t, `/events?after=${fromStart.body.next_cursor}&limit=1`, read());
    expect(next.body.data.map((e: { id: string }) => e.id)).toEqual([kept[2]]);
    expect(next.body.total).toBe(1);
    // Filtered totals count only the feed too.
    const named = await get(t, '/events?event=message.new', read());
    expect(named.body.total).toBe(1);

    // A removed event, and one kept only as a complaint's timeline (complaint.created), are before the window.
    const created = await t.store.db
      .selectFrom('events')
      .select('id')
      .where('name', '=', 'complaint.created')
      .executeTakeFirstOrThrow();
    for (const cursor of [old[0], created.id]) {
      const r = await get(t, `/events?after=${cursor}`, read());
      expectError(r, 410, 'cursor_expired');
      expect(r.body.error.message).toMatch(/after=start/);
    }
    // The feed starts right after old[2]: nothing after it was removed, so it is still a good cursor.
    const edge = await get(t, `/events?after=${old[2]}`, read());
    expect(edge.body.data.map((e: { id: string }) => e.id)).toEqual(kept);
    expect(edge.body.total).toBe(3);
    const fresh = await tenant(t, 'ACME');
    const unknown = await get(t, '/events?after=evt_0000000000000000000', { authorization: `Bearer ${fresh.readKey}` });
    expectError(unknown, 400, 'invalid_query');
    // Another company's event id answers as any id that is not one of yours.
    const foreign = await get(t, `/events?after=${kept[0]}`, { authorization: `Bearer ${fresh.readKey}` });
    expectError(foreign, 400, 'invalid_query');
  });
});

describe('GET/PUT /api/v1/settings/retention', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    t = await createTestApp();
    v = await tenant(t, 'VOLT', 'professional');
  });
  afterEach(async () => t.close());

  const put = (headers: Record<string, string>, payload: unknown) =>
    call(t, { method: 'PUT', url: '/api/v1/settings/retention', headers, payload: payload as object });
  const admin = () => ({ authorization: `Bearer ${v.adminKey}` });

  it('shows the plan default and changes within the plan', async () => {
    const r = await get(t, '/settings/retention', { authorization: `Bearer ${v.readKey}` });
    expect(r.body.data).toEqual({
      days: 90,
      default_days: 90,
      max_days: 90,
      plan: 'professional',
      feed_events: 0,
      oldest_event_at: null,
    });
    const changed = await put(admin(), { days: 30 });
    expect(changed.status).toBe(200);
    expect(changed.body.data.days).toBe(30);
    expect((await get(t, '/settings/retention', admin())).body.data.days).toBe(30);
  });

  it('refuses bad input with a code and changes nothing', async () => {
    for (const payload of [
      { days: 0 },
      { days: -1 },
      { days: 1.5 },
      { days: '30' },
      { days: null },
      {},
      { days: 30, extra: 1 },
      { days: 4000 },
    ]) {
      expectError(await put(admin(), payload), 400, 'validation_failed');
    }
    const over = await put(admin(), { days: 91 });
    expectError(over, 403, 'retention_over_plan');
    expect(over.body.error.details).toMatchObject({ max_days: 90 });
    expectError(await put({ authorization: `Bearer ${v.readKey}` }, { days: 30 }), 403, 'insufficient_scope');
    const viewer = await session(t, v.company.id, 'viewer');
    expectError(await put(viewer.withCsrf, { days: 30 }), 403, 'forbidden');
    expect((await get(t, '/settings/retention', admin())).body.data.days).toBe(90);
  });

  it("another tenant's key changes only its own company", async () => {
    const acme = await tenant(t, 'ACME', 'enterprise');
    expect((await put({ authorization: `Bearer ${acme.adminKey}` }, { days: 365 })).status).toBe(200);
    expect((await get(t, '/settings/retention', admin())).body.data.days).toBe(90);
  });

  it('an owner on the free plan may shorten but not lengthen its 7 days', async () => {
    const free = await tenant(t, 'FREE');
    await t.store.db.updateTable('companies').set({ plan: 'free' }).where('id', '=', free.company.id).execute();
    const owner = await session(t, free.company.id, 'owner');
    expectError(await put(owner.withCsrf, { days: 8 }), 403, 'retention_over_plan');
    const ok = await put(owner.withCsrf, { days: 3 });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ days: 3, max_days: 7, plan: 'free' });
  });
});
