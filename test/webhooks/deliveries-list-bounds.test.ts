import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COUNTED_AHEAD } from '../../src/storage/counted-rows.js';
import { listDeliveries, type DeliveryFilter } from '../../src/webhooks/endpoint-deliveries.js';
import { queryPlan, watchedStatements } from '../helpers/query-plan.js';
import { createEndpoint, setupWebhooks } from './endpoints-helpers.js';

type Setup = Awaited<ReturnType<typeof setupWebhooks>>;

/** More deliveries than a list counts past its page's start, so the first page's total stops counting. */
const MADE = COUNTED_AHEAD + 200;
/** Of the MADE: every 250th failed, every 251st dead, every 100th for a complaint.resolved event. */
const FAILED = Math.floor(MADE / 250);
const DEAD = Math.floor(MADE / 251);
const RESOLVED = Math.floor(MADE / 100);
const FAILED_AND_CREATED = FAILED - Math.floor(MADE / 500);

interface Item {
  id: string;
  event: string;
  status: string;
  created_at: string;
}

describe('deliveries lists: a bounded count, and filters found through their indexes', () => {
  let s: Setup;
  let endpointId: string;
  let testSendId: string;

  beforeEach(async () => {
    s = await setupWebhooks();
    endpointId = (await createEndpoint(s.api)).id;
    // One delivery made through the product (pending: never attempted), the newest of all; MADE more copied from it
    // with SQL, each with an event of its own, a second apart going back from it.
    testSendId = (await s.api.post(`/webhooks/${endpointId}/test`, {})).body.data.id;
    const db = s.t.store.db;
    const now = s.t.clock.now();
    const { event_seq: seq } = await db
      .selectFrom('companies')
      .select('event_seq')
      .where('id', '=', s.volt.company.id)
      .executeTakeFirstOrThrow();
    const n = sql.lit(MADE);
    const madeAt = sql`${sql.lit(now)} - (${n} + 1 - i) * 1000`;
    const status = sql`case when i % 250 = 0 then 'failed' when i % 251 = 0 then 'dead' else 'success' end`;
    const numbers = sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < ${n})`;
    await sql`insert into events (id, company_id, seq, name, complaint_id, body, delivery_status, created_at)
      ${numbers}
      select 'evt_bulk' || i, ${s.volt.company.id}, ${sql.lit(Number(seq))} + i,
        case when i % 100 = 0 then 'complaint.resolved' else 'complaint.created' end, null, '{}', ${status}, ${madeAt}
      from n`.execute(db);
    await db
      .updateTable('companies')
      .set({ event_seq: Number(seq) + MADE })
      .where('id', '=', s.volt.company.id)
      .execute();
    await sql`insert into deliveries (id, company_id, event_id, endpoint_id, destination_id, target, status,
        attempt_count, sequence_start, next_attempt_at, lease_until, lease_owner, idempotency_key, last_status_code,
        last_error, order_key, order_seq, created_at, updated_at)
      ${numbers}
      select 'dlv_bulk' || i, t.company_id, 'evt_bulk' || i, t.endpoint_id, null, t.target, ${status}, 1, 0,
        case when i % 250 = 0 then ${sql.lit(now)} else null end, null, null, 'idem_bulk' || i, 200, null, null, null,
        ${madeAt}, ${madeAt}
      from deliveries t cross join n where t.id = ${testSendId}`.execute(db);
  });
  afterEach(async () => s.t.close());

  const list = async (url: string) => {
    const res = await s.api.get(url);
    expect(res.status).toBe(200);
    return res.body as { total: number; total_exact: boolean; page: number; data: Item[] };
  };
  const newestFirst = (items: Item[]) =>
    expect(items.map((d) => d.created_at)).toEqual(
      items
        .map((d) => d.created_at)
        .sort()
        .reverse(),
    );

  it('counts up to the bound past the page, says when more match, and pages on past it', async () => {
    const first = await list('/deliveries');
    expect(first).toMatchObject({ total: COUNTED_AHEAD, total_exact: false, page: 1 });
    expect(first.data).toHaveLength(25);
    expect(first.data[0].id).toBe(testSendId);
    newestFirst(first.data);
    // The endpoint's own list is bounded the same way.
    expect(await list(`/webhooks/${endpointId}/deliveries?limit=10`)).toMatchObject({
      total: COUNTED_AHEAD,
      total_exact: false,
    });

    // Past the bound's page the count reaches the end: exact again, and the page is there.
    const deep = await list(`/deliveries?page=${COUNTED_AHEAD / 25 + 1}&limit=25`);
    expect(deep).toMatchObject({ total: MADE + 1, total_exact: true });
    expect(deep.data).toHaveLength(25);
    newestFirst(deep.data);
    expect(deep.data[0].created_at < first.data[24].created_at).toBe(true);
    const beyond = await list('/deliveries?page=1000&limit=25');
    expect(beyond).toMatchObject({ total: MADE + 1, total_exact: true, data: [] });

    // Another company sees none of them.
    expect((await s.acmeApi.get('/deliveries')).body).toMatchObject({ total: 0, total_exact: true, data: [] });
  });

  it('filters by status, event and endpoint with exact totals where few match', async () => {
    const failed = await list('/deliveries?status=failed&limit=100');
    expect(failed).toMatchObject({ total: FAILED, total_exact: true });
    expect(failed.data.map((d) => d.status)).toEqual(Array(FAILED).fill('failed'));
    newestFirst(failed.data);
    expect(await list('/deliveries?status=dead')).toMatchObject({ total: DEAD, total_exact: true });
    const pending = await list('/deliveries?status=pending');
    expect(pending).toMatchObject({ total: 1, total_exact: true });
    expect(pending.data.map((d) => d.id)).toEqual([testSendId]);
    expect(await list('/deliveries?status=success')).toMatchObject({
      total: COUNTED_AHEAD,
      total_exact: false,
    });

    const resolved = await list('/deliveries?event=complaint.resolved&limit=100');
    expect(resolved).toMatchObject({ total: RESOLVED, total_exact: true });
    expect(new Set(resolved.data.map((d) => d.event))).toEqual(new Set(['complaint.resolved']));
    newestFirst(resolved.data);
    const secondPage = await list('/deliveries?event=complaint.resolved&limit=30&page=2');
    expect(secondPage.data.map((d) => d.id)).toEqual(resolved.data.slice(30, 60).map((d) => d.id));
    expect((await list('/deliveries?event=webhook.test')).data.map((d) => d.id)).toEqual([testSendId]);
    expect(await list('/deliveries?event=complaint.escalated')).toMatchObject({ total: 0, data: [] });

    const combined = await list(`/webhooks/${endpointId}/deliveries?event=complaint.created&status=failed&limit=100`);
    expect(combined).toMatchObject({ total: FAILED_AND_CREATED, total_exact: true });
    expect(combined.data.every((d) => d.event === 'complaint.created' && d.status === 'failed')).toBe(true);
    expect((await s.acmeApi.get('/deliveries?event=complaint.resolved')).body).toMatchObject({ total: 0, data: [] });
  });

  /** Reads a list through with cursors (`limit` a page) to a null next_cursor; the ids, and each page's envelope. */
  const readThrough = async (path: string, limit: number) => {
    const ids: string[] = [];
    const pages: Array<{ total: number; total_exact: boolean }> = [];
    const join = path.includes('?') ? '&' : '?';
    for (let cursor = 'start'; ;) {
      const res = await s.api.get(`${path}${join}limit=${limit}&cursor=${cursor}`);
      expect(res.status, path).toBe(200);
      ids.push(...(res.body.data as Item[]).map((d) => d.id));
      pages.push(res.body);
      if (res.body.next_cursor === null) return { ids, pages };
      expect(res.body.data, path).toHaveLength(limit);
      cursor = res.body.next_cursor;
    }
  };
  /** Every page of a page-number list, concatenated. */
  const byPageNumbers = async (path: string) => {
    const ids: string[] = [];
    const join = path.includes('?') ? '&' : '?';
    for (let page = 1; ; page++) {
      const got = await list(`${path}${join}limit=100&page=${page}`);
      ids.push(...got.data.map((d) => d.id));
      if (got.data.length < 100) return ids;
    }
  };

  it('reads every filter’s list through with a cursor: the page-number list’s deliveries, in its order', async () => {
    // Deliveries of one millisecond (the 3rd and 5th oldest made at the 4th's time): the id decides among them.
    const db = s.t.store.db;
    const { created_at: at } = await db
      .selectFrom('deliveries')
      .select('created_at')
      .where('id', '=', 'dlv_bulk4')
      .executeTakeFirstOrThrow();
    await sql`update deliveries set created_at = ${at} where id in ('dlv_bulk3', 'dlv_bulk5')`.execute(db);
    await sql`update events set created_at = ${at} where id in ('evt_bulk3', 'evt_bulk5')`.execute(db);
    // Two events with a second delivery each (as with two endpoints): the id decides between an event's deliveries.
    await sql`insert into deliveries (id, company_id, event_id, endpoint_id, destination_id, target, status,
        attempt_count, sequence_start, next_attempt_at, lease_until, lease_owner, idempotency_key, last_status_code,
        last_error, order_key, order_seq, created_at, updated_at)
      select id || 'b', company_id, event_id, endpoint_id, destination_id, target, status, attempt_count,
        sequence_start, next_attempt_at, lease_until, lease_owner, idempotency_key || 'b', last_status_code,
        last_error, order_key, order_seq, created_at, updated_at
      from deliveries where id in ('dlv_bulk200', 'dlv_bulk300')`.execute(db);
    for (const [path, limit] of [
      ['/deliveries?event=complaint.resolved', 1],
      ['/deliveries?event=complaint.resolved', 7],
      ['/deliveries?status=failed', 5],
      ['/deliveries?status=pending', 1],
      [`/webhooks/${endpointId}/deliveries?event=complaint.created&status=dead`, 9],
      ['/deliveries?event=webhook.test', 2],
      ['/deliveries?event=complaint.escalated', 3],
    ] as const) {
      const { ids } = await readThrough(path, limit);
      expect(ids, path).toEqual(await byPageNumbers(path));
    }
    // The long lists against their rows read with SQL in list order (in this store an event's seq and its time agree,
    // so the order is one on both stores): a page-number read of each would walk ten thousand rows a page.
    const inOrder = async (event?: string) =>
      (
        await sql<{ id: string }>`select d.id from deliveries d join events e on e.id = d.event_id
          where d.company_id = ${s.volt.company.id} ${event ? sql`and e.name = ${event}` : sql``}
          order by d.created_at desc, d.id desc`.execute(s.t.store.db)
      ).rows.map((r) => r.id);
    const everything = await readThrough('/deliveries', 100);
    expect(everything.ids).toEqual(await inOrder());
    expect(everything.ids).toHaveLength(MADE + 3);
    // A cursor page counts from its place on: bounded at first, exact near the end.
    expect(everything.pages[0]).toMatchObject({ total: COUNTED_AHEAD, total_exact: false });
    expect(everything.pages.at(-1)).toMatchObject({ total: (MADE + 3) % 100, total_exact: true });
    const created = await readThrough('/deliveries?event=complaint.created', 100);
    expect(created.ids).toEqual(await inOrder('complaint.created'));
    // Another company's list from the same place has none of these.
    const theirs = await s.acmeApi.get('/deliveries?cursor=start');
    expect(theirs.body).toMatchObject({ total: 0, data: [], next_cursor: null });
  });

  it('refuses a cursor it did not give, or one given for filters read in another order', async () => {
    const encoded = (text: string) => Buffer.from(text).toString('base64url');
    const plain = (await s.api.get('/deliveries?limit=1&cursor=start')).body.next_cursor as string;
    const byEvent = (await s.api.get('/deliveries?event=complaint.resolved&limit=1&cursor=start')).body
      .next_cursor as string;
    expect(plain).toEqual(expect.any(String));
    const sqlite = s.t.store.profile.name === 'sqlite';
    for (const [query, refused] of [
      ['cursor=abc', true],
      ['cursor=start&page=3', true],
      [`cursor=${encoded('12:ESC-VOLT-260417-00010')}`, true],
      [`cursor=${encoded('x1:dlv_bulk1')}`, true],
      [`cursor=${plain}`, false],
      // SQLite reads one event name's deliveries in the order of its events, so its cursors hold an event's place.
      [`event=complaint.resolved&cursor=${plain}`, sqlite],
      [`cursor=${byEvent}`, sqlite],
      [`event=complaint.resolved&cursor=${byEvent}`, false],
    ] as const) {
      const res = await s.api.get(`/deliveries?${query}`);
      expect(res.status, query).toBe(refused ? 400 : 200);
      if (refused) expect(res.body.error, query).toMatchObject({ code: 'invalid_query' });
    }
  });

  it('finds a few old pending deliveries without walking every delivery for them', async () => {
    // Three old deliveries sent again (pending, as a resend or a recovery leaves them, with their created_at): the
    // newest of all deliveries is pending too (the test send).
    const again = ['dlv_bulk5000', 'dlv_bulk100', 'dlv_bulk7']; // newest first: the bulk ones go back in time
    await sql`update deliveries set status = 'pending', next_attempt_at = ${s.t.clock.now()}
      where id in (${sql.join(again)})`.execute(s.t.store.db);
    const pending = await list('/deliveries?status=pending&limit=2');
    expect(pending).toMatchObject({ total: 4, total_exact: true });
    expect(pending.data.map((d) => d.id)).toEqual([testSendId, again[0]]);
    expect((await list('/deliveries?status=pending&limit=2&page=2')).data.map((d) => d.id)).toEqual(again.slice(1));
    expect((await list(`/webhooks/${endpointId}/deliveries?status=pending`)).data.map((d) => d.id)).toEqual([
      testSendId,
      ...again,
    ]);
    expect((await s.acmeApi.get('/deliveries?status=pending')).body).toMatchObject({ total: 0, data: [] });
    if (s.t.store.profile.name !== 'sqlite') return;
    // On SQLite the page's ids come from the pending rows' own index, sorted; not from a walk of every delivery.
    const { db, statements } = watchedStatements(s.t.store);
    await listDeliveries(db, s.t.store.profile, s.volt.company.id, { status: 'pending' }, { page: 1, limit: 25 });
    const page = statements.find((q) => q.sql.includes('order by'))!;
    const plan = (await queryPlan(s.t.store, page)).join('\n');
    expect(plan).toContain('deliveries_due_by_receiver');
    expect(plan).not.toContain('deliveries_company_page');
  });

  it('counts each filter on the index that holds its rows, and finds an event name through its events', async () => {
    const store = s.t.store;
    const sqlite = store.profile.name === 'sqlite';
    const { db, statements } = watchedStatements(store);
    const plansOf = async (filter: DeliveryFilter) => {
      statements.length = 0;
      await listDeliveries(db, store.profile, s.volt.company.id, filter, { page: 1, limit: 25 });
      const count = statements.find((q) => q.sql.includes('count(') && q.sql.includes('"deliveries"'))!;
      return { count: (await queryPlan(store, count)).join('\n') };
    };
    // SQLite reads the partial index of the status's rows. PostgreSQL reads the queue's partition alone (failed,
    // pending and dead rows are there: migration 0059), whichever of its indexes it takes.
    for (const [filter, index] of [
      [{ status: 'failed' }, 'deliveries_recoverable'],
      [{ status: 'dead' }, 'deliveries_recoverable'],
      [{ status: 'pending' }, 'deliveries_due'],
    ] as const) {
      const { count } = await plansOf(filter);
      if (sqlite) expect(count, JSON.stringify(filter)).toContain(index);
      else {
        expect(count, JSON.stringify(filter)).toContain('deliveries_queue');
        expect(count, JSON.stringify(filter)).not.toContain('deliveries_settled');
      }
    }
    if (sqlite) expect((await plansOf({})).count).toContain('COVERING INDEX deliveries_company_page');
    // A cursor page, and its count, range from the place: never a walk to it.
    for (const [filter, after] of [
      [{}, { time: s.t.clock.now() - 5_000_000, id: 'dlv_bulk5000' }],
      [
        { event: 'complaint.created' },
        sqlite ? { time: 5000, id: 'dlv_bulk5000', by: 'seq' as const } : { time: 5000, id: 'x_y' },
      ],
    ] as const) {
      statements.length = 0;
      await listDeliveries(db, store.profile, s.volt.company.id, filter, { page: 1, limit: 25, after });
      // (On PostgreSQL an event name's events are counted first, up to a bound: no delivery is read for that.)
      for (const q of statements.filter((q) => /count\(|order by/.test(q.sql) && q.sql.includes('"deliveries"'))) {
        const plan = (await queryPlan(store, q)).join('\n');
        if (sqlite) expect(plan, q.sql).toMatch(/(created_at|seq)<\?/);
        else expect(plan, q.sql).toMatch(/Index Cond: .*created_at <=/s);
      }
    }
    const byEvent = await plansOf({ event: 'complaint.resolved' });
    if (sqlite) {
      // The events of that name lead (SQLite keeps a CROSS JOIN's order): never a walk of every delivery.
      expect(byEvent.count.split('\n').find((l) => l.includes('SEARCH') || l.includes('SCAN'))).toContain(
        'events_company_name',
      );
      expect(byEvent.count).not.toContain('SCAN d');
    } else {
      // PostgreSQL, a name of few events: from those events, each one's deliveries looked up by its id in the span
      // of its time, never a walk of the company's deliveries.
      const scans = byEvent.count.split('\n').filter((l) => l.includes(' Scan '));
      expect(byEvent.count).toContain('Nested Loop');
      expect(scans[0]).toContain('using events_company_name on events e');
      expect(byEvent.count).toMatch(/e\.created_at = created_at|created_at = e\.created_at/);
      expect(byEvent.count).not.toMatch(/Seq Scan on deliveries/);
    }
  });
});
