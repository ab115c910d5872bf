import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transact } from '../../src/domain/context.js';
import { emitEvent } from '../../src/domain/events.js';
import { DAY_MS, setRetentionByCode } from '../../src/domain/retention.js';
import { claim } from '../../src/queue/claim.js';
import { record } from '../../src/queue/record.js';
import { maintainHistoryPartitions } from '../../src/storage/history-partitions.js';
import * as m0039 from '../../src/storage/migrations/0039_partitioned_attempts.js';
import { createTestApp, dialectName, type TestApp } from '../helpers/harness.js';
import { endpointRow, tenant, type Tenant } from '../api/platform-fixtures.js';

const pg = dialectName === 'postgres';

/** One event of the company at the test clock, its delivery claimed and recorded as the worker does (`ok` or a 500). */
async function deliver(t: TestApp, v: Tenant, ok = true, complaintId: string | null = null): Promise<string> {
  await transact(t.app.ctx, (work) =>
    emitEvent(t.app.ctx, work, { companyId: v.company.id, name: 'webhook.test', complaintId, data: {} }),
  );
  const now = t.clock.now();
  const {
    deliveries: [c],
  } = await claim(t.store, { now, limit: 1, leaseMs: 60_000, owner: 'w1', excludeReceivers: [] });
  const outcome = {
    ok,
    statusCode: ok ? 200 : 500,
    durationMs: 5,
    errorKind: ok ? null : ('http_status' as const),
    errorMessage: null,
    responseExcerpt: 'ok',
    retryAfterMs: null,
    gone: false,
  };
  // A failure with an empty schedule is final: the delivery settles as dead.
  await record(t.store, [], [{ delivery: c.delivery, startedAt: now, finishedAt: now + 5, outcome, owner: 'w1' }]);
  return c.delivery.id;
}

/** The partition (table) holding the delivery's row. */
const deliveryPartitionOf = async (t: TestApp, deliveryId: string) =>
  (
    await sql<{
      part: string;
    }>`select tableoid::regclass::text as part from deliveries where id = ${deliveryId}`.execute(t.store.db)
  ).rows.map((r) => r.part.replace(/^.*\./, ''));

/** The partition (table) holding each attempt of the delivery. */
const partitionsOf = async (t: TestApp, deliveryId: string) =>
  (
    await sql<{
      part: string;
    }>`select tableoid::regclass::text as part from attempts where delivery_id = ${deliveryId}`.execute(t.store.db)
  ).rows.map((r) => r.part.replace(/^.*\./, ''));

const rangePartitions = async (t: TestApp, cls: number) =>
  (
    await sql<{ name: string }>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      join pg_class p on p.oid = i.inhparent join pg_namespace n on n.oid = p.relnamespace
      where n.nspname = current_schema() and p.relname = ${`attempts_k${cls}`} and c.relname <> ${`attempts_k${cls}_default`}
      order by c.relname`.execute(t.store.db)
  ).rows.map((r) => r.name);

const day = (t: number) => new Date(t).toISOString().slice(0, 10).replaceAll('-', '');

describe('attempt history in partitions by retention class and time', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    t = await createTestApp();
    v = await tenant(t, 'VOLT', 'professional');
    await endpointRow(t, v.company.id);
    await setRetentionByCode(t.app.ctx, 'VOLT', { days: 7 });
  });
  afterEach(async () => t.close());

  it.skipIf(!pg)('maintenance creates spans ahead of the clock and drops those a window old', async () => {
    const now = t.clock.now();
    const first = await maintainHistoryPartitions(t.store.db, now);
    expect(first.created).toBeGreaterThan(0);
    const held = await rangePartitions(t, 7);
    // From the span holding the window's start to two spans ahead, one a day for the 7-day class.
    expect(held).toContain(`attempts_k7_p${day(now - 7 * DAY_MS)}`);
    expect(held).toContain(`attempts_k7_p${day(now)}`);
    expect(held).toContain(`attempts_k7_p${day(now + 1 * DAY_MS)}`);
    expect(held).not.toContain(`attempts_k7_p${day(now - 9 * DAY_MS)}`);
    // A second pass at the same time changes nothing.
    const again = await maintainHistoryPartitions(t.store.db, now);
    expect([again.created, again.dropped]).toEqual([0, 0]);

    const later = now + 3 * DAY_MS;
    const moved = await maintainHistoryPartitions(t.store.db, later);
    expect(moved.dropped).toBeGreaterThanOrEqual(3);
    const after = await rangePartitions(t, 7);
    expect(after).not.toContain(`attempts_k7_p${day(now - 7 * DAY_MS)}`);
    expect(after).toContain(`attempts_k7_p${day(later + DAY_MS)}`);
    expect(moved.oldestStart).not.toBeNull();
  });

  it.skipIf(!pg)(
    'rows land in their class and span; retention drops the partition, the custom class is pruned row by row',
    async () => {
      const start = t.clock.now();
      await t.app.retention.run(); // the spans around the test clock exist before the rows are written
      const seven = await deliver(t, v);
      const failed = await deliver(t, v, false); // through the transaction path, not the batch of successes
      expect(await partitionsOf(t, seven)).toEqual([`attempts_k7_p${day(start)}`]);
      expect(await partitionsOf(t, failed)).toEqual([`attempts_k7_p${day(start)}`]);

      const w = await tenant(t, 'WATT', 'professional');
      await endpointRow(t, w.company.id);
      await setRetentionByCode(t.app.ctx, 'WATT', { minutes: 2 * 1440 + 1 }); // no class: custom
      const custom = await deliver(t, w);
      expect(await partitionsOf(t, custom)).toEqual(['attempts_custom']);

      // Three days on: the custom window has passed; its attempts went row by row, the partition holds the others.
      t.clock.set(start + 3 * DAY_MS);
      const mid = await t.app.retention.run();
      expect(await partitionsOf(t, custom)).toEqual([]);
      expect(mid.pruned.attempts).toBe(1);
      expect(await partitionsOf(t, seven)).toHaveLength(1);

      // Past the 7-day window (and its span): the deliveries are removed, their attempts by dropping the partition.
      t.clock.set(start + 9 * DAY_MS);
      const report = await t.app.retention.run();
      expect(report.pruned.deliveries).toBe(2);
      expect(report.pruned.attempts).toBe(0);
      expect(report.partitions?.attempts.dropped).toBeGreaterThan(0);
      expect(await partitionsOf(t, seven)).toEqual([]);
      expect(await rangePartitions(t, 7)).not.toContain(`attempts_k7_p${day(start)}`);
    },
  );

  it.skipIf(!pg)('a company changing its window writes later rows to the new class', async () => {
    await t.app.retention.run();
    const before = await deliver(t, v);
    await setRetentionByCode(t.app.ctx, 'VOLT', { days: 30 });
    const after = await deliver(t, v);
    expect((await partitionsOf(t, before))[0]).toMatch(/^attempts_k7_p/);
    expect((await partitionsOf(t, after))[0]).toMatch(/^attempts_k30_p/);
    // A plan's default class is taken up by the next retention run.
    await t.store.db.updateTable('companies').set({ retention_days: null, plan: 'enterprise' }).execute();
    await t.app.retention.run();
    expect((await partitionsOf(t, await deliver(t, v)))[0]).toMatch(/^attempts_k365_p/);
  });

  it.skipIf(!pg)(
    "a complaint event's delivery and attempts stay in their span until it is dropped; other events' go with theirs",
    async () => {
      const start = Math.floor(t.clock.now() / DAY_MS) * DAY_MS + DAY_MS / 2;
      t.clock.set(start);
      await t.app.retention.run();
      const timeline = await deliver(t, v, true, 'ESC-VOLT-261204-00001');
      const other = await deliver(t, v);
      const dead = await deliver(t, v, false, 'ESC-VOLT-261204-00001');
      expect(await deliveryPartitionOf(t, timeline)).toEqual([`deliveries_settled_k7_p${day(start)}`]);
      expect(await deliveryPartitionOf(t, dead)).toEqual(['deliveries_queue']);
      // Out of the window, the day's span not yet a window old: the other event's rows and the dead delivery go row
      // by row, the complaint event's delivered one waits for its span.
      t.clock.set(start + 7 * DAY_MS + 60_000);
      const report = await t.app.retention.run();
      expect(report.pruned.deliveries).toBe(2);
      expect(report.pruned.attempts).toBe(1);
      expect(await deliveryPartitionOf(t, timeline)).toEqual([`deliveries_settled_k7_p${day(start)}`]);
      expect(await partitionsOf(t, timeline)).toEqual([`attempts_k7_p${day(start)}`]);
      expect(await deliveryPartitionOf(t, other)).toEqual([]);
      expect(await partitionsOf(t, other)).toEqual([]);
      expect(await deliveryPartitionOf(t, dead)).toEqual([]);
      // Erasure finds those left behind by their event id.
      const left = await t.store.db.selectFrom('attempts').select('event_id').execute();
      expect(left.map((a) => a.event_id?.startsWith('evt_'))).toEqual([true, true]);
      // The API lists what the company still has: the complaint's event is its timeline, not its delivery history.
      const listed = await t.app.ctx.store.db
        .selectFrom('deliveries as d')
        .innerJoin('events as e', 'e.id', 'd.event_id')
        .select('d.id')
        .execute();
      expect(listed.map((d) => d.id)).toEqual([timeline]);

      // Once the span is a window old, both go whole.
      t.clock.set(start + 9 * DAY_MS);
      const dropped = await t.app.retention.run();
      expect(dropped.pruned.deliveries).toBe(0);
      expect(dropped.partitions?.deliveries.dropped).toBeGreaterThan(0);
      expect(await deliveryPartitionOf(t, timeline)).toEqual([]);
      expect(await partitionsOf(t, timeline)).toEqual([]);
    },
  );

  it.skipIf(!pg)('a window made longer keeps the rows written before the change for the new window', async () => {
    const start = Math.floor(t.clock.now() / DAY_MS) * DAY_MS + DAY_MS / 2;
    t.clock.set(start);
    await t.app.retention.run();
    const w = await tenant(t, 'WATT', 'professional');
    await endpointRow(t, w.company.id);
    await setRetentionByCode(t.app.ctx, 'WATT', { days: 7 });
    const volt = await deliver(t, v);
    const watt = await deliver(t, w);
    const stays = await tenant(t, 'AMPS', 'professional');
    await endpointRow(t, stays.company.id);
    await setRetentionByCode(t.app.ctx, 'AMPS', { days: 7 });
    const amps = await deliver(t, stays);
    await setRetentionByCode(t.app.ctx, 'VOLT', { days: 30 });
    await setRetentionByCode(t.app.ctx, 'WATT', { minutes: 20 * 1440 + 7 }); // no class: custom

    // Past the 7-day class's drop of the day: the lengthened companies' rows moved to their present class first.
    t.clock.set(start + 9 * DAY_MS);
    const report = await t.app.retention.run();
    expect(report.partitions?.attempts.moved).toBe(2);
    expect(await rangePartitions(t, 7)).not.toContain(`attempts_k7_p${day(start)}`);
    expect(await partitionsOf(t, volt)).toEqual([`attempts_k30_p${day(start)}`]);
    expect(await partitionsOf(t, watt)).toEqual(['attempts_custom']);
    expect(await partitionsOf(t, amps)).toEqual([]);
    // Their delivered rows too, when the drop of the delivered history's span came (the run reached every edge).
    expect(report.partitions?.deliveries.moved).toBe(2);
    // The delivered history's 30-day class has 5-day spans.
    const span = 5 * DAY_MS;
    expect(await deliveryPartitionOf(t, volt)).toEqual([
      `deliveries_settled_k30_p${day(Math.floor(start / span) * span)}`,
    ]);
    expect(await deliveryPartitionOf(t, watt)).toEqual(['deliveries_settled_custom']);
    expect(await deliveryPartitionOf(t, amps)).toEqual([]);
    const kept = await t.store.db.selectFrom('deliveries').select('id').where('id', 'in', [volt, watt]).execute();
    expect(kept).toHaveLength(2);

    // And they go once the new window has passed.
    t.clock.set(start + 32 * DAY_MS);
    await t.app.retention.run();
    expect(await partitionsOf(t, volt)).toEqual([]);
    expect(await partitionsOf(t, watt)).toEqual([]);
  });

  it.skipIf(!pg)('a row written while its span had no partition moves into the partition made for it', async () => {
    const farAhead = t.clock.now() + 30 * DAY_MS;
    t.clock.set(farAhead); // no pass has made this span yet
    const id = await deliver(t, v);
    expect(await partitionsOf(t, id)).toEqual(['attempts_k7_default']);
    await maintainHistoryPartitions(t.store.db, farAhead);
    expect(await partitionsOf(t, id)).toEqual([`attempts_k7_p${day(farAhead)}`]);
  });

  it.skipIf(!pg)('migration 0039 converts a store whose attempts are one plain table, rows and all', async () => {
    const { db } = t.store;
    // The layout before 0039: one table, its key and indexes, no class columns.
    await sql`drop table attempts`.execute(db);
    await sql`alter table companies drop column history_class`.execute(db);
    await sql`create table attempts (id text primary key, delivery_id text not null, company_id text not null,
      n bigint not null, started_at bigint not null, duration_ms bigint not null, status_code bigint, error_kind text,
      error_message text, response_excerpt text)`.execute(db);
    await sql`create index attempts_delivery on attempts (delivery_id, n)`.execute(db);
    await sql`create index attempts_company_started on attempts (company_id, started_at)`.execute(db);
    const now = Date.now(); // the migration makes the spans around the real clock
    await sql`insert into attempts (id, delivery_id, company_id, n, started_at, duration_ms)
      values ('att_a', 'dlv_a', ${v.company.id}, 1, ${now - DAY_MS}, 5),
             ('att_b', 'dlv_b', 'cmp_gone', 1, ${now}, 5)`.execute(db);
    await m0039.up(db);
    expect(await partitionsOf(t, 'dlv_a')).toEqual([`attempts_k7_p${day(now - DAY_MS)}`]);
    expect(await partitionsOf(t, 'dlv_b')).toEqual(['attempts_custom']);
    expect(await rangePartitions(t, 365)).toContain(
      `attempts_k365_p${day(Math.floor(now / (7 * DAY_MS)) * 7 * DAY_MS)}`,
    );
  });

  it.skipIf(pg)('SQLite keeps one table and removes every attempt row by row', async () => {
    const start = t.clock.now();
    await deliver(t, v);
    t.clock.set(start + 8 * DAY_MS);
    const report = await t.app.retention.run();
    expect(report.pruned.attempts).toBe(1);
    expect(report.partitions).toBeUndefined();
  });
});
