import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transact } from '../../src/domain/context.js';
import { emitEvent } from '../../src/domain/events.js';
import { QueueVacuum, tablesToAnalyze, tablesToVacuum, type QueueTable } from '../../src/queue/queue-vacuum.js';
import { createTestApp, dialectName, type TestApp } from '../helpers/harness.js';
import { endpointRow, tenant, type Tenant } from '../api/platform-fixtures.js';

const pg = dialectName === 'postgres';

describe('the queue tables vacuumed past a count of dead row versions', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    t = await createTestApp();
    v = await tenant(t, 'VOLT');
    await endpointRow(t, v.company.id);
  });
  afterEach(async () => t.close());

  /**
   * `n` events with a delivery each, then every delivery settled, as workers leave them: each row moves to the settled
   * partition and leaves one dead version in the queue's.
   */
  async function settleDeliveries(n: number): Promise<void> {
    for (let i = 0; i < n; i++)
      await transact(t.app.ctx, (work) =>
        emitEvent(t.app.ctx, work, { companyId: v.company.id, name: 'webhook.test', data: { i } }),
      );
    await t.store.db.connection().execute(async (c) => {
      await sql`update deliveries set status = 'success', next_attempt_at = null, attempt_count = 1`.execute(c);
      // The server counts dead versions from each session's statistics, which a session sends about once a second
      // when idle; this one sends the update's as soon as it is asked to.
      if (pg) await sql`select pg_stat_force_next_flush()`.execute(c);
    });
  }

  /** How many vacuums or analyzes the server has counted on the queue's partition. */
  const queueTableCount = async (column: 'vacuum_count' | 'analyze_count') =>
    Number(
      (
        await sql<{ n: string }>`
          select ${sql.ref(column)} as n from pg_stat_user_tables
          where schemaname = current_schema() and relname = 'deliveries_queue'`.execute(t.store.db)
      ).rows[0].n,
    );
  const vacuumCount = () => queueTableCount('vacuum_count');
  const analyzeCount = () => queueTableCount('analyze_count');

  it.skipIf(!pg)(
    "vacuums the queue's partition of deliveries once its dead versions reach the count, and not before",
    async () => {
      await settleDeliveries(12);
      const seen: Array<[QueueTable, number]> = [];
      const vacuum = (minDeadRows: number) =>
        new QueueVacuum(t.store, {
          intervalMs: 60_000,
          minDeadRows,
          onVacuum: (table, dead) => seen.push([table, dead]),
        });

      expect(await vacuum(13).run()).toEqual([]);
      expect(await vacuumCount()).toBe(0);

      expect(await tablesToVacuum(t.store, 12)).toEqual([{ table: 'deliveries_queue', deadRows: 12 }]);
      expect(await vacuum(12).run()).toEqual(['deliveries_queue']);
      expect(seen).toEqual([['deliveries_queue', 12]]);
      expect(await vacuumCount()).toBe(1);
      // The vacuum reported what it left: no dead versions, so the next look does nothing.
      expect(await tablesToVacuum(t.store, 1)).toEqual([]);
      expect(await vacuum(1).run()).toEqual([]);
    },
  );

  it.skipIf(!pg)('a count of 0 turns it off', async () => {
    await settleDeliveries(3);
    expect(await new QueueVacuum(t.store, { intervalMs: 60_000, minDeadRows: 0 }).run()).toEqual([]);
    expect(await vacuumCount()).toBe(0);
  });

  /** `n` pending deliveries of the test's endpoint written straight into the queue, as a backlog commits them. */
  async function backlog(n: number, from = 0): Promise<void> {
    await t.store.db.connection().execute(async (c) => {
      await sql`
        insert into deliveries (id, company_id, event_id, endpoint_id, target, status, next_attempt_at,
          idempotency_key, created_at, updated_at)
        select 'dlv_backlog_' || g, ${v.company.id}, 'evt_backlog_' || g, e.id, 'endpoint', 'pending', g,
          'backlog_' || g, g, g
        from generate_series(${from + 1}::int, ${from + n}::int) g, (select id from endpoints limit 1) e`.execute(c);
      await sql`select pg_stat_force_next_flush()`.execute(c);
    });
  }

  it.skipIf(!pg)(
    "takes the statistics of the queue's partition when it has grown: the count written, and twice its rows",
    async () => {
      const before = await analyzeCount();
      await backlog(1_000);
      const analyzed: Array<[QueueTable, number]> = [];
      const upkeep = (minDeadRows: number) =>
        new QueueVacuum(t.store, {
          intervalMs: 60_000,
          minDeadRows,
          onAnalyze: (table, modified) => analyzed.push([table, modified]),
        });

      // Below the count: nothing.
      await upkeep(1_001).run();
      expect(await analyzeCount()).toBe(before);

      expect(await tablesToAnalyze(t.store, 1_000)).toEqual([{ table: 'deliveries_queue', modifiedRows: 1_000 }]);
      await upkeep(1_000).run();
      expect(analyzed).toEqual([['deliveries_queue', 1_000]]);
      expect(await analyzeCount()).toBe(before + 1);
      // The planner now knows the backlog's receivers and times.
      const { rows } = await sql<{ attname: string }>`
        select attname from pg_stats where schemaname = current_schema() and tablename = 'deliveries_queue'
        and attname in ('company_id', 'endpoint_id', 'next_attempt_at') order by attname`.execute(t.store.db);
      expect(rows.map((r) => r.attname)).toEqual(['company_id', 'endpoint_id', 'next_attempt_at']);

      // 900 more rows reach a count of 50 but leave the backlog under twice the 1,000 the statistics saw.
      await backlog(900, 1_000);
      expect(await tablesToAnalyze(t.store, 50)).toEqual([]);
      await upkeep(50).run();
      expect(await analyzeCount()).toBe(before + 1);
      // A draining backlog needs none either, however many rows its settles write.
      await t.store.db.connection().execute(async (c) => {
        await sql`update deliveries set status = 'success', next_attempt_at = null
                  where id in (select id from deliveries_queue order by id limit 1500)`.execute(c);
        await sql`select pg_stat_force_next_flush()`.execute(c);
      });
      expect(await tablesToAnalyze(t.store, 50)).toEqual([]);
      // Grown past twice: due again.
      await backlog(1_700, 1_900);
      expect(await tablesToAnalyze(t.store, 50)).toEqual([
        { table: 'deliveries_queue', modifiedRows: 900 + 1_500 + 1_700 },
      ]);
    },
  );

  it.skipIf(pg)('does nothing on SQLite, whose deletes and updates leave no dead versions to vacuum', async () => {
    await settleDeliveries(3);
    expect(await new QueueVacuum(t.store, { intervalMs: 60_000, minDeadRows: 1 }).run()).toEqual([]);
  });
});
