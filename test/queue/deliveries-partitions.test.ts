import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transact } from '../../src/domain/context.js';
import { emitEvent } from '../../src/domain/events.js';
import { claim } from '../../src/queue/claim.js';
import { record } from '../../src/queue/record.js';
import { requeue } from '../../src/queue/requeue.js';
import type { Tx } from '../../src/storage/db.js';
import * as m0054 from '../../src/storage/migrations/0054_deliveries_queue_partition.js';
import * as m0056 from '../../src/storage/migrations/0056_deliveries_company_page.js';
import * as m0057 from '../../src/storage/migrations/0057_deliveries_recoverable.js';
import * as m0059 from '../../src/storage/migrations/0059_deliveries_settled_by_time.js';
import * as m0060 from '../../src/storage/migrations/0060_queued_deliveries_class.js';
import * as m0061 from '../../src/storage/migrations/0061_queue_indexes_on_queue.js';
import { DELIVERY_HISTORY, maintainHistoryPartitions } from '../../src/storage/history-partitions.js';
import { deleteEndpoint } from '../../src/webhooks/endpoints.js';
import { createTestApp, dialectName, type TestApp } from '../helpers/harness.js';
import { endpointRow, tenant, type Tenant } from '../api/platform-fixtures.js';

const pg = dialectName === 'postgres';

const OK = {
  ok: true,
  statusCode: 200,
  durationMs: 5,
  errorKind: null,
  errorMessage: null,
  responseExcerpt: 'ok',
  retryAfterMs: null,
  gone: false,
};

describe('deliveries: the queue and the settled history', () => {
  let t: TestApp;
  let v: Tenant;
  let endpointId: string;
  beforeEach(async () => {
    t = await createTestApp();
    v = await tenant(t, 'VOLT');
    endpointId = await endpointRow(t, v.company.id);
  });
  afterEach(async () => t.close());

  /** One event with one delivery to the endpoint; its id. */
  async function newDelivery(): Promise<string> {
    await transact(t.app.ctx, (work) =>
      emitEvent(t.app.ctx, work, { companyId: v.company.id, name: 'webhook.test', data: {} }),
    );
    const row = await t.store.db
      .selectFrom('deliveries')
      .select('id')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  const claimOne = async (owner: string) =>
    (await claim(t.store, { now: t.clock.now(), limit: 1, leaseMs: 60_000, owner, excludeReceivers: [] }))
      .deliveries[0];

  /** The table each delivery's row is in (PostgreSQL). */
  const partitionOf = async (id: string) =>
    (
      await sql<{ part: string }>`select tableoid::regclass::text as part from deliveries where id = ${id}`.execute(
        t.store.db,
      )
    ).rows.map((r) => r.part.replace(/^.*\./, ''));

  const statusOf = async (id: string) =>
    (await t.store.db.selectFrom('deliveries').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

  it.skipIf(!pg)(
    'a row waits in the queue, moves to its class in the delivered history when it succeeds, and back when resent',
    async () => {
      // The company's retention class as the retention step sets it; no span of the class is made yet.
      await t.store.db.updateTable('companies').set({ history_class: 7 }).where('id', '=', v.company.id).execute();
      const id = await newDelivery();
      expect(await partitionOf(id)).toEqual(['deliveries_queue']);
      const claimed = await claimOne('w1');
      expect(claimed.delivery.id).toBe(id);
      expect(await partitionOf(id)).toEqual(['deliveries_queue']);
      const now = t.clock.now();
      const applied = await record(
        t.store,
        [],
        [{ delivery: claimed.delivery, startedAt: now, finishedAt: now + 5, outcome: OK, owner: 'w1' }],
      );
      expect(applied).toHaveLength(1);
      expect(await partitionOf(id)).toEqual(['deliveries_settled_k7_default']);
      expect(await statusOf(id)).toBe('success');

      const resent = await transact(t.app.ctx, (work) => requeue(t.store, work, v.company.id, [id], ['success']));
      expect(resent).toBe(1);
      expect(await partitionOf(id)).toEqual(['deliveries_queue']);
      expect((await claimOne('w2')).delivery.id).toBe(id);
    },
  );

  it.skipIf(!pg)(
    'migrations 0054, 0059 and 0061 move existing rows into their partition and keep every index by name',
    async () => {
      const settledId = await newDelivery();
      const claimed = await claimOne('w1');
      const now = t.clock.now();
      await record(
        t.store,
        [],
        [{ delivery: claimed.delivery, startedAt: now, finishedAt: now + 5, outcome: OK, owner: 'w1' }],
      );
      const pendingId = await newDelivery();
      const deadId = await newDelivery();
      const { db } = t.store;
      await sql`update deliveries set status = 'dead' where id = ${deadId}`.execute(db);
      // The indexes made on the partitioned table and on the queue's partition itself.
      const indexes = async () =>
        (
          await sql<{ table: string; name: string; def: string }>`
          select tablename as table, indexname as name, indexdef as def from pg_indexes
          where schemaname = current_schema() and tablename in ('deliveries', 'deliveries_queue')
            and indexname not like 'deliveries_queue_%' order by indexname`.execute(db)
        ).rows.map((r) => ({ table: r.table, name: r.name, def: r.def.replace(/^.* USING /, '') }));
      const before = await indexes();

      // Back to one table as migrations 0001–0053 left it, with the rows in it, then 0054 again (and 0056, which
      // replaced one of its indexes, 0057, which added one, 0059, which split the delivered history by time, and
      // 0061, which moved the queue's indexes to the queue's partition).
      await sql`create table deliveries_flat (like deliveries including defaults)`.execute(db);
      await sql`insert into deliveries_flat select * from deliveries`.execute(db);
      await sql`drop table deliveries`.execute(db);
      await sql`alter table deliveries_flat rename to deliveries`.execute(db);
      await sql`alter table deliveries add primary key (id)`.execute(db);
      const asOf0053 = [
        ...before.filter(
          (i) => !['deliveries_pkey', 'deliveries_company_page', 'deliveries_recoverable'].includes(i.name),
        ),
        { name: 'deliveries_company_created', def: 'btree (company_id, created_at)' },
      ];
      for (const { name, def } of asOf0053)
        await sql`create index ${sql.id(name)} on deliveries using ${sql.raw(def)}`.execute(db);
      await m0054.up(db);
      await m0056.up(db);
      await m0057.up(db);
      expect(await partitionOf(deadId)).toEqual(['deliveries_settled']);
      await m0059.up(db);
      await m0061.up(db);

      // The company's class is its plan's (professional: 90 days), given at its creation.
      expect(await partitionOf(settledId)).toEqual(['deliveries_settled_k90_default']);
      expect(await partitionOf(pendingId)).toEqual(['deliveries_queue']);
      expect(await partitionOf(deadId)).toEqual(['deliveries_queue']);
      expect(await indexes()).toEqual(before);
      expect(before.map((i) => [i.table, i.name])).toEqual([
        ['deliveries', 'deliveries_company_page'],
        ['deliveries_queue', 'deliveries_due'],
        ['deliveries_queue', 'deliveries_due_by_receiver'],
        ['deliveries', 'deliveries_endpoint'],
        ['deliveries', 'deliveries_event'],
        ['deliveries_queue', 'deliveries_in_order'],
        ['deliveries', 'deliveries_pkey'],
        ['deliveries_queue', 'deliveries_recoverable'],
      ]);
      expect((await claimOne('w2')).delivery.id).toBe(pendingId);
    },
  );

  it.skipIf(!pg)("a delivered span carries the table's indexes and none of the queue's", async () => {
    await maintainHistoryPartitions(t.store.db, t.clock.now(), [], DELIVERY_HISTORY);
    const indexesOf = async (table: string) =>
      (
        await sql<{ def: string }>`
          select indexdef as def from pg_indexes where schemaname = current_schema() and tablename = ${table}`.execute(
          t.store.db,
        )
      ).rows.map((r) => r.def.replace(/^.* USING /, ''));
    const spans = (
      await sql<{ name: string }>`
        select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
        join pg_class p on p.oid = i.inhparent
        where p.relname = 'deliveries_settled_k30' and p.relnamespace = c.relnamespace`.execute(t.store.db)
    ).rows.map((r) => r.name);
    expect(spans.length).toBeGreaterThan(1);
    for (const span of spans) {
      const defs = await indexesOf(span);
      // The key, a company's page, an endpoint's deliveries and an event's.
      expect(defs, span).toHaveLength(4);
      expect(
        defs.filter((d) => d.includes(' WHERE ')),
        span,
      ).toEqual([]);
    }
    const queue = await indexesOf('deliveries_queue');
    expect(queue.filter((d) => d.includes(' WHERE '))).toHaveLength(4);
  });

  it("deliveries waiting in the queue at the upgrade take their company's class (migration 0060)", async () => {
    await t.store.db.updateTable('companies').set({ history_class: 30 }).where('id', '=', v.company.id).execute();
    const made = await newDelivery();
    expect((await t.store.db.selectFrom('deliveries').select('keep_days').executeTakeFirstOrThrow()).keep_days).toBe(
      30,
    );
    // As a delivery made before migration 0058 was: no class.
    await sql`update deliveries set keep_days = 0 where id = ${made}`.execute(t.store.db);
    await m0060.up(t.store.db);
    expect(
      Number(
        (await t.store.db.selectFrom('deliveries').select('keep_days').where('id', '=', made).executeTakeFirstOrThrow())
          .keep_days,
      ),
    ).toBe(30);
    const claimed = await claimOne('w1');
    const now = t.clock.now();
    await record(
      t.store,
      [],
      [{ delivery: claimed.delivery, startedAt: now, finishedAt: now + 5, outcome: OK, owner: 'w1' }],
    );
    if (pg) expect(await partitionOf(made)).toEqual(['deliveries_settled_k30_default']);
    expect(await statusOf(made)).toBe('success');
  });

  it.skipIf(!pg)('a status outside the known ones has no partition: the write is refused', async () => {
    const id = await newDelivery();
    await expect(sql`update deliveries set status = 'lost' where id = ${id}`.execute(t.store.db)).rejects.toMatchObject(
      {
        code: '23514',
      },
    );
    expect(await statusOf(id)).toBe('pending');
  });

  /**
   * Holds a transaction that has settled the delivery, runs `racing` while that transaction is open, waits until
   * PostgreSQL shows `racing` waiting for the held row, then commits the holder. A success moved the row to another
   * partition: `racing` then finds it gone, which PostgreSQL refuses with 40001, and has to run again. A dead row
   * stays in the queue's partition: `racing` goes on with its new version.
   */
  async function whileMoved<T>(id: string, move: (tx: Tx) => Promise<unknown>, racing: () => Promise<T>): Promise<T> {
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    let heldBy!: (pid: number) => void;
    const held = new Promise<number>((resolve) => (heldBy = resolve));
    const holder = t.store.db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx);
      await move(tx);
      heldBy(rows[0].pid);
      await committing;
    });
    const pid = await held;
    let done = false;
    const race = racing().finally(() => (done = true));
    race.catch(() => undefined);
    // Awaitable state, not time: the server's own view of who waits for whom.
    for (;;) {
      const { rows } = await sql<{ n: string }>`
        select count(*) as n from pg_stat_activity where ${pid} = any (pg_blocking_pids(pid))`.execute(t.store.db);
      if (Number(rows[0].n) > 0 || done) break;
    }
    expect(done).toBe(false);
    commit();
    await holder;
    return race;
  }

  it.skipIf(!pg)(
    'deleting an endpoint while a worker settles one of its deliveries: runs again and leaves it settled',
    async () => {
      const id = await newDelivery();
      const claimed = await claimOne('w1');
      const result = await whileMoved(
        id,
        (tx) =>
          sql`update deliveries set status = 'success', next_attempt_at = null, lease_owner = null
            where id = ${id}`.execute(tx),
        () => deleteEndpoint(t.app.ctx, v.company.id, endpointId),
      );
      expect(result).toEqual({ id: endpointId, deleted: true, ended_deliveries: 0 });
      expect(await statusOf(id)).toBe('success');
      expect(claimed.delivery.id).toBe(id);
    },
  );

  it.skipIf(!pg)(
    "a worker's result for a delivery ended meanwhile (its endpoint deleted): waits for it and is not applied",
    async () => {
      const id = await newDelivery();
      const claimed = await claimOne('w1');
      const now = t.clock.now();
      const applied = await whileMoved(
        id,
        (tx) =>
          sql`update deliveries set status = 'dead', last_error = 'endpoint deleted' where id = ${id}`.execute(tx),
        () =>
          record(
            t.store,
            [],
            [{ delivery: claimed.delivery, startedAt: now, finishedAt: now + 5, outcome: OK, owner: 'w1' }],
          ),
      );
      expect(applied).toEqual([]);
      expect(await statusOf(id)).toBe('dead');
      const attempts = await t.store.db.selectFrom('attempts').select('id').where('delivery_id', '=', id).execute();
      expect(attempts).toEqual([]);
    },
  );

  it('a delivery ended while its attempt was in flight keeps its end: the late result is not applied', async () => {
    const id = await newDelivery();
    const claimed = await claimOne('w1');
    expect((await deleteEndpoint(t.app.ctx, v.company.id, endpointId)).ended_deliveries).toBe(1);
    const now = t.clock.now();
    const applied = await record(
      t.store,
      [],
      [{ delivery: claimed.delivery, startedAt: now, finishedAt: now + 5, outcome: OK, owner: 'w1' }],
    );
    expect(applied).toEqual([]);
    expect(await statusOf(id)).toBe('dead');
  });
});
