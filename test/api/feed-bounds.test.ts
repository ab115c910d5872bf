import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COUNTED_AHEAD } from '../../src/storage/counted-rows.js';
import { bearer, type TestApp } from '../helpers/harness.js';
import { appWithTenant, file, get, tenant, type Tenant } from './platform-fixtures.js';

/** More events than a filtered feed counts past its page's first, so a filtered first page stops counting. */
const MADE = COUNTED_AHEAD + 200;
/** Of the MADE: every 100th is complaint.resolved, the rest complaint.created; every 3rd is delivered. */
const RESOLVED = Math.floor(MADE / 100);

interface Page {
  total: number;
  total_exact: boolean;
  next_cursor?: string;
  data: Array<{ id: string; event: string; delivery_status: string }>;
}

describe('the event feed: a filtered total is counted up to a bound, an unfiltered one stays exact', () => {
  let t: TestApp;
  let v: Tenant;
  /** Events of each name the company has: the one filed through the product and the MADE written with SQL. */
  let created: number;
  let delivered: number;

  beforeEach(async () => {
    ({ t, v } = await appWithTenant());
    // One complaint filed through the product (its complaint.created is the company's first event); MADE more events
    // after it written with SQL in the stored body's form, a second apart, with gap-free seqs as the writer gives.
    await file(t, v);
    const db = t.store.db;
    const { event_seq: seq } = await db
      .selectFrom('companies')
      .select('event_seq')
      .where('id', '=', v.company.id)
      .executeTakeFirstOrThrow();
    const n = sql.lit(MADE);
    const name = sql`case when i % 100 = 0 then 'complaint.resolved' else 'complaint.created' end`;
    await sql`insert into events (id, company_id, seq, name, complaint_id, body, delivery_status, created_at)
      with recursive n(i) as (select 1 union all select i + 1 from n where i < ${n})
      select 'evt_bulk' || i, ${v.company.id}, ${sql.lit(Number(seq))} + i, ${name}, null,
        '{"id":"evt_bulk' || i || '","event":"' || ${name} || '","timestamp":"2026-12-07T00:00:00.000Z","data":{}}',
        case when i % 3 = 0 then 'success' else 'none' end, ${sql.lit(t.clock.now())} + i * 1000
      from n`.execute(db);
    await db
      .updateTable('companies')
      .set({ event_seq: Number(seq) + MADE })
      .where('id', '=', v.company.id)
      .execute();
    created = 1 + MADE - RESOLVED;
    delivered = Math.floor(MADE / 3);
  });
  afterEach(async () => t.close());

  const feed = async (query: string, key = v.readKey) => {
    const r = await get(t, `/events?${query}`, bearer(key));
    expect(r.status, query).toBe(200);
    return r.body as Page;
  };

  it('counts an offset page’s filtered total up to the bound past its first event, and pages on past it', async () => {
    expect(created).toBeGreaterThan(COUNTED_AHEAD + 25);
    // Unfiltered: exact at any size (it follows from seqs).
    expect(await feed('limit=5')).toMatchObject({ total: 1 + MADE, total_exact: true });
    // A name most events have: counted to the bound past the page's first, and said to be more.
    const first = await feed('event=complaint.created&limit=25');
    expect(first).toMatchObject({ total: COUNTED_AHEAD, total_exact: false });
    expect(first.data).toHaveLength(25);
    expect(first.data.every((e) => e.event === 'complaint.created')).toBe(true);
    expect(await feed('event=complaint.created&limit=25&page=2')).toMatchObject({
      total: 25 + COUNTED_AHEAD,
      total_exact: false,
    });
    // Far enough in, the bound reaches past the last match: exact again, and the page is the right one.
    const deep = await feed('event=complaint.created&limit=100&page=10');
    expect(deep).toMatchObject({ total: created, total_exact: true });
    expect(deep.data).toHaveLength(100);
    const last = await feed(`event=complaint.created&limit=100&page=${Math.ceil(created / 100)}`);
    expect(last).toMatchObject({ total: created, total_exact: true });
    expect(last.data).toHaveLength(created % 100 || 100);
    // A rare name, and a status: exact under the bound, counted to it over.
    expect(await feed('event=complaint.resolved')).toMatchObject({ total: RESOLVED, total_exact: true });
    expect(await feed('status=success')).toMatchObject({ total: delivered, total_exact: true });
    expect(await feed('status=none')).toMatchObject({ total: 1 + MADE - delivered, total_exact: true });
  });

  it('counts a full cursor page’s filtered total up to the bound from the cursor on', async () => {
    const start = await feed('after=start&event=complaint.created&limit=100');
    expect(start).toMatchObject({ total: COUNTED_AHEAD, total_exact: false });
    expect(start.data).toHaveLength(100);
    // From a cursor with fewer than the bound still to read, the count is exact: the events after it.
    const near = `evt_bulk${MADE - 1_000}`;
    const after = await feed(`after=${near}&event=complaint.created&limit=100`);
    expect(after.total_exact).toBe(true);
    expect(after.total).toBe(1_000 - (Math.floor(MADE / 100) - Math.floor((MADE - 1_000) / 100)));
    expect(after.data[0].id).toBe(`evt_bulk${MADE - 999}`);
    // Unfiltered from a cursor: exact, whatever is left.
    expect(await feed('after=start&limit=10')).toMatchObject({ total: 1 + MADE, total_exact: true });
    // A short page is all there is: its length is the total (the last event, MADE a multiple of 100, is resolved).
    expect(await feed(`after=evt_bulk${MADE - 50}&event=complaint.resolved`)).toMatchObject({
      total: 1,
      total_exact: true,
      data: [{ id: `evt_bulk${MADE}` }],
    });
  });

  it('never counts another company’s events', async () => {
    const o = await tenant(t, 'OTHR');
    expect(await feed('event=complaint.created', o.readKey)).toMatchObject({ total: 0, total_exact: true, data: [] });
    expect(await feed('status=none&after=start', o.readKey)).toMatchObject({ total: 0, total_exact: true, data: [] });
  });
});
