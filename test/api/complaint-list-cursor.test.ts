import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { listCompanyComplaints } from '../../src/domain/company-complaint-list.js';
import type { ComplaintFilter } from '../../src/domain/complaints.js';
import { queryPlan, watchedStatements } from '../helpers/query-plan.js';
import { bearer, type TestApp } from '../helpers/harness.js';
import {
  appWithTenant,
  call,
  consumerStep,
  expectInvalidQueries,
  file,
  get,
  tenant,
  type Tenant,
} from './platform-fixtures.js';

type Page = { total: number; page: number; data: Array<{ escalatr_id: string }>; next_cursor?: string | null };

const idsOf = (p: Page) => p.data.map((c) => c.escalatr_id);

/**
 * Nine complaints: four filed in one millisecond (the id alone orders them), two escalated, two flagged, three
 * held. Returned newest first, as the list orders them.
 */
async function nineComplaints(t: TestApp, v: Tenant): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 9; i++) {
    if (i < 3 || i > 5) t.clock.advance(60_000);
    ids.push(await file(t, v));
  }
  await consumerStep(t, v, ids[1], 'escalate');
  await consumerStep(t, v, ids[4], 'escalate');
  await sql`update complaints set flagged_at = ${t.clock.now()} where escalatr_id in (${ids[2]}, ${ids[5]})`.execute(
    t.store.db,
  );
  await sql`update complaints set claimed_by = 'agent@volt.test' where escalatr_id in (${ids[0]}, ${ids[4]}, ${ids[7]})`.execute(
    t.store.db,
  );
  return ids.reverse();
}

/** Reads a list through with cursors, `limit` at a time, checking each page's envelope; the ids in order. */
async function readThrough(t: TestApp, key: string, query: string, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let cursor = 'start';
  for (let pages = 0; pages < 50; pages++) {
    const r = await get(t, `/complaints?${query}&limit=${limit}&cursor=${cursor}`, bearer(key));
    expect(r.status, query).toBe(200);
    expect(Object.keys(r.body)).toEqual(['success', 'page', 'limit', 'total', 'data', 'next_cursor']);
    const page = r.body as Page;
    seen.push(...idsOf(page));
    if (page.next_cursor === null) {
      expect(page.data.length, query).toBeLessThanOrEqual(limit);
      return seen;
    }
    expect(page.data, query).toHaveLength(limit);
    cursor = page.next_cursor!;
  }
  throw new Error(`${query}: the cursor never reached the end`);
}

describe('GET /api/v1/complaints with a cursor', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    ({ t, v } = await appWithTenant());
  });
  afterEach(async () => t.close());

  it('reads every filter’s list through exactly once, in the page-number order, ties in one millisecond included', async () => {
    const newestFirst = await nineComplaints(t, v);
    let checked = 0;
    for (const query of [
      '',
      'status=Open',
      'status=Escalated',
      'assignee=none',
      'flagged=true',
      'flagged=false&status=Open',
      'stage=Intake&escalation_level=L1',
      'status=Withdrawn',
    ]) {
      const byPage = (await get(t, `/complaints?${query}&limit=100`, bearer(v.readKey))).body as Page;
      expect(Object.keys(byPage)).toEqual(['success', 'page', 'limit', 'total', 'data']);
      for (const limit of [1, 2, 3, 100]) {
        const ids = await readThrough(t, v.readKey, query, limit);
        expect(ids, `${query} limit=${limit}`).toEqual(idsOf(byPage));
        checked++;
      }
      const first = (await get(t, `/complaints?${query}&cursor=start&limit=2`, bearer(v.readKey))).body as Page;
      expect(first.total, query).toBe(byPage.total);
      expect(first.page).toBe(1);
    }
    expect(checked).toBe(32);
    expect(await readThrough(t, v.readKey, '', 4)).toEqual(newestFirst);
  });

  it('goes on past its complaint’s removal, and neither repeats nor skips when complaints are filed meanwhile', async () => {
    const newestFirst = await nineComplaints(t, v);
    const first = (await get(t, '/complaints?cursor=start&limit=4', bearer(v.readKey))).body as Page;
    expect(idsOf(first)).toEqual(newestFirst.slice(0, 4));
    // A page number would now repeat the fourth complaint on page 2; the cursor stays where the reader was.
    t.clock.advance(60_000);
    const newer = await file(t, v);
    await sql`delete from complaints where escalatr_id = ${newestFirst[3]}`.execute(t.store.db);
    const second = (await get(t, `/complaints?cursor=${first.next_cursor}&limit=4`, bearer(v.readKey))).body as Page;
    expect(idsOf(second)).toEqual(newestFirst.slice(4, 8));
    expect(second.total).toBe(9);
    const last = (await get(t, `/complaints?cursor=${second.next_cursor}&limit=4`, bearer(v.readKey))).body as Page;
    expect(last).toMatchObject({ total: 9, next_cursor: null });
    expect(idsOf(last)).toEqual(newestFirst.slice(8));
    expect(idsOf((await get(t, '/complaints?limit=1&cursor=start', bearer(v.readKey))).body)).toEqual([newer]);
  });

  it('an empty list answers an empty page with no next cursor; a page that ends the list exactly has none either', async () => {
    const empty = (await get(t, '/complaints?cursor=start', bearer(v.readKey))).body;
    expect(empty).toEqual({ success: true, page: 1, limit: 25, total: 0, data: [], next_cursor: null });
    const ids = [await file(t, v), await file(t, v)];
    const whole = (await get(t, '/complaints?cursor=start&limit=2', bearer(v.readKey))).body as Page;
    expect(whole.next_cursor).toBeNull();
    expect(new Set(idsOf(whole))).toEqual(new Set(ids));
  });

  it('positions only within the caller’s own list: another company’s cursor shows nothing of theirs', async () => {
    const other = await tenant(t, 'OTHR');
    const mine: string[] = [];
    const theirs: string[] = [];
    for (let i = 0; i < 3; i++) {
      t.clock.advance(60_000);
      mine.push(await file(t, v));
      theirs.push(await file(t, other));
    }
    const theirFirst = (await get(t, '/complaints?cursor=start&limit=1', bearer(other.readKey))).body as Page;
    expect(idsOf(theirFirst)).toEqual([theirs[2]]);
    const withTheirCursor = (await get(t, `/complaints?cursor=${theirFirst.next_cursor}`, bearer(v.readKey)))
      .body as Page;
    // Their cursor is a place in time: my complaints before it, in my list's order. My newest shares its
    // millisecond, and ESC-VOLT sorts after ESC-OTHR, so in newest-first order mine comes first and is left out.
    expect(idsOf(withTheirCursor)).toEqual([mine[1], mine[0]]);
    expect(withTheirCursor.total).toBe(3);
  });

  it('refuses cursors it did not give, a page number beside a cursor, and a cursor on the consumer list', async () => {
    await file(t, v);
    const encoded = (text: string) => Buffer.from(text).toString('base64url');
    await expectInvalidQueries(t, '/complaints', bearer(v.readKey), [
      ['cursor=', 'cursor'],
      ['cursor=abc', 'cursor'],
      ['cursor=a%2Bb%2F%3D', 'cursor'],
      [`cursor=${'A'.repeat(201)}`, 'cursor'],
      [`cursor=${encoded('123:not-an-id')}`, 'cursor'],
      [`cursor=${encoded('-1:ESC-VOLT-260417-00010')}`, 'cursor'],
      [`cursor=${encoded('1e3:ESC-VOLT-260417-00010')}`, 'cursor'],
      [`cursor=${encoded(':ESC-VOLT-260417-00010')}`, 'cursor'],
      [`cursor=${encoded('12345678901234567890:ESC-VOLT-260417-00010')}`, 'cursor'],
      [`cursor=${encoded("1:ESC-VOLT-260417-00010' or 1=1 --")}`, 'cursor'],
      ['cursor=start&page=2', 'page'],
      ['cursor=start&cursor=start', 'cursor'],
    ]);
    const consumer = await call(t, {
      method: 'GET',
      url: '/api/consumer/v1/complaints?cursor=start',
      headers: bearer(v.consumerToken),
    });
    expect(consumer.status).toBe(400);
    expect(consumer.body.error.code).toBe('invalid_query');
  });
});

describe('a cursor page’s statement', () => {
  it('reads a range of the list’s index in order, whatever the filter: never a walk to the place or a sort', async () => {
    const { t, v } = await appWithTenant();
    try {
      await nineComplaints(t, v);
      const { db, statements } = watchedStatements(t.store);
      const after = { time: t.clock.now() - 120_000, id: 'ESC-VOLT-000000-00000' };
      for (const filter of [
        {},
        { status: 'Open' },
        { holder: 'agent@volt.test' },
        { holder: null },
        { flagged: true },
      ] as Array<Partial<ComplaintFilter>>) {
        statements.length = 0;
        await listCompanyComplaints(db, v.company.id, { page: 1, limit: 25, ...filter, after });
        const plan = (await queryPlan(t.store, statements[0])).join('\n');
        expect(plan, JSON.stringify(filter)).not.toMatch(/TEMP B-TREE|Sort|Seq Scan on complaints/);
        if (t.store.profile.name === 'sqlite') expect(plan, JSON.stringify(filter)).toMatch(/created_at<\?/);
        else expect(plan, JSON.stringify(filter)).toMatch(/Index Cond: .*created_at <=/s);
      }
    } finally {
      await t.close();
    }
  });
});
