import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { listCompanyComplaints } from '../../src/domain/company-complaint-list.js';
import type { ComplaintFilter } from '../../src/domain/complaints.js';
import { queryPlan, watchedStatements } from '../helpers/query-plan.js';
import { getComplaintDetail } from '../../src/domain/complaints.js';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';
import {
  consumerStep,
  expectError,
  file,
  get,
  session,
  staffStep,
  tenant,
  type Tenant,
  appWithTenant,
  expectInvalidQueries,
} from './platform-fixtures.js';

// The seed's list item, field for field and in order.
const SEED_ITEM_FIELDS = [
  'escalatr_id',
  'complaint_category',
  'status',
  'stage',
  'escalation_level',
  'priority',
  'amount_involved',
  'currency',
  'is_overdue',
  'created_at',
];

type CountRow = {
  company_id: string;
  status: string;
  stage: string;
  level: number | string;
  held: number | string;
  flagged: number | string;
  n: number | string;
};

type State = { id: string; status: string; stage: string; level: string };

/** Six complaints, one minute apart, covering every status and stage and three levels; returned oldest first. */
async function sixComplaints(t: TestApp, v: Tenant): Promise<State[]> {
  const next = async () => {
    t.clock.advance(60_000);
    return file(t, v);
  };
  const open = await next();
  const l2 = await next();
  await consumerStep(t, v, l2, 'escalate');
  const l3 = await next();
  await consumerStep(t, v, l3, 'escalate');
  await consumerStep(t, v, l3, 'escalate');
  const resolved = await next();
  await consumerStep(t, v, resolved, 'resolve', { resolution_type: 'refund', amount_recovered: 1500 });
  const withdrawn = await next();
  await consumerStep(t, v, withdrawn, 'withdraw', { reason_code: 'duplicate' });
  const completed = await next();
  await consumerStep(t, v, completed, 'escalate');
  await staffStep(t, v, completed, 'claim');
  await staffStep(t, v, completed, 'complete', { resolution_notes: 'Replaced the unit' });
  return [
    { id: open, status: 'Open', stage: 'Intake', level: 'L1' },
    { id: l2, status: 'Escalated', stage: 'Escalation', level: 'L2' },
    { id: l3, status: 'Escalated', stage: 'Escalation', level: 'L3' },
    { id: resolved, status: 'Resolved', stage: 'Closure', level: 'L1' },
    { id: withdrawn, status: 'Withdrawn', stage: 'Closure', level: 'L1' },
    { id: completed, status: 'Escalated', stage: 'Closure', level: 'L2' },
  ];
}

describe('GET /api/v1/complaints', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    ({ t, v } = await appWithTenant());
  });
  afterEach(async () => t.close());

  it('lists newest first with exactly the seed item fields, under both auth headers, any key scope and any staff role', async () => {
    const states = await sixComplaints(t, v);
    const viewer = await session(t, v.company.id, 'viewer');
    const agent = await session(t, v.company.id, 'agent');
    for (const headers of [
      bearer(v.readKey),
      bearer(v.adminKey),
      { 'x-api-key': v.readKey },
      { 'x-api-key': v.adminKey },
      viewer.cookie,
      agent.cookie,
    ]) {
      const r = await get(t, '/complaints', headers);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ success: true, page: 1, limit: 25, total: 6 });
      expect(Object.keys(r.body)).toEqual(['success', 'page', 'limit', 'total', 'data']);
      expect(r.body.data.map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual(states.map((s) => s.id).reverse());
      for (const item of r.body.data) expect(Object.keys(item)).toEqual(SEED_ITEM_FIELDS);
    }
    const first = (await get(t, '/complaints?limit=1', bearer(v.readKey))).body.data[0];
    expect(first).toEqual({
      escalatr_id: states[5].id,
      complaint_category: 'Consumer Durables',
      status: 'Escalated',
      stage: 'Closure',
      escalation_level: 'L2',
      priority: 'high',
      amount_involved: 42000,
      currency: 'INR',
      is_overdue: false,
      created_at: new Date(t.clock.now()).toISOString(),
    });
  });

  it('applies every filter and every combination of them', async () => {
    const states = await sixComplaints(t, v);
    const newestFirst = [...states].reverse();
    let checked = 0;
    for (const status of [undefined, 'Open', 'Escalated', 'Resolved', 'Withdrawn']) {
      for (const stage of [undefined, 'Intake', 'Escalation', 'Closure']) {
        for (const level of [undefined, 'L1', 'L2', 'L3', 'L9']) {
          const qs = new URLSearchParams();
          if (status) qs.set('status', status);
          if (stage) qs.set('stage', stage);
          if (level) qs.set('escalation_level', level);
          const r = await get(t, `/complaints?${qs}`, bearer(v.readKey));
          const expected = newestFirst.filter(
            (s) => (!status || s.status === status) && (!stage || s.stage === stage) && (!level || s.level === level),
          );
          expect(r.status, qs.toString()).toBe(200);
          expect(r.body.total, qs.toString()).toBe(expected.length);
          expect(
            r.body.data.map((c: { escalatr_id: string }) => c.escalatr_id),
            qs.toString(),
          ).toEqual(expected.map((s) => s.id));
          for (const item of r.body.data) {
            const s = states.find((x) => x.id === item.escalatr_id)!;
            expect([item.status, item.stage, item.escalation_level]).toEqual([s.status, s.stage, s.level]);
          }
          checked++;
        }
      }
    }
    expect(checked).toBe(100);
  });

  it('pages: full pages, the short last page, and past the end an empty page with the right total', async () => {
    const ids = (await sixComplaints(t, v)).map((s) => s.id).reverse();
    const page = async (p: number, limit: number) =>
      (await get(t, `/complaints?page=${p}&limit=${limit}`, bearer(v.readKey))).body;
    expect(await page(1, 4)).toMatchObject({
      page: 1,
      limit: 4,
      total: 6,
      data: ids.slice(0, 4).map((escalatr_id) => ({ escalatr_id })),
    });
    expect(await page(2, 4)).toMatchObject({
      page: 2,
      limit: 4,
      total: 6,
      data: ids.slice(4).map((escalatr_id) => ({ escalatr_id })),
    });
    expect(await page(3, 4)).toEqual({ success: true, page: 3, limit: 4, total: 6, data: [] });
    expect(await page(1_000_000, 100)).toEqual({ success: true, page: 1_000_000, limit: 100, total: 6, data: [] });
    expect((await page(1, 100)).data).toHaveLength(6);
    expect((await page(6, 1)).data.map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual([ids[5]]);
    const filteredPast = await get(t, '/complaints?status=Escalated&page=2&limit=3', bearer(v.readKey));
    expect(filteredPast.body).toEqual({ success: true, page: 2, limit: 3, total: 3, data: [] });
    const none = await get(t, '/complaints?status=Open&escalation_level=L9', bearer(v.readKey));
    expect(none.body).toEqual({ success: true, page: 1, limit: 25, total: 0, data: [] });
  });

  it('shows is_overdue once the SLA window has passed, only for active complaints', async () => {
    const states = await sixComplaints(t, v);
    t.clock.advance(73 * 3600_000);
    const r = await get(t, '/complaints', bearer(v.readKey));
    const overdue = Object.fromEntries(
      r.body.data.map((c: { escalatr_id: string; is_overdue: boolean }) => [c.escalatr_id, c.is_overdue]),
    );
    expect(overdue[states[0].id]).toBe(true);
    expect(overdue[states[3].id]).toBe(false);
    expect(overdue[states[4].id]).toBe(false);
  });

  it('never shows another company’s complaints and counts only the caller’s', async () => {
    const other = await tenant(t, 'OTHR');
    await file(t, other);
    await file(t, other);
    const mine = await file(t, v);
    const r = await get(t, '/complaints', bearer(v.readKey));
    expect(r.body.total).toBe(1);
    expect(r.body.data.map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual([mine]);
    const theirs = await get(t, '/complaints', bearer(other.readKey));
    expect(theirs.body.total).toBe(2);
    expect(theirs.body.data.every((c: { escalatr_id: string }) => c.escalatr_id.startsWith('ESC-OTHR-'))).toBe(true);
  });

  it('refuses every bad query parameter with 400 invalid_query naming it', async () => {
    await file(t, v);
    const cases: Array<[string, string]> = [
      ['status=open', 'status'],
      ['status=', 'status'],
      ['status=Open%20', 'status'],
      ['stage=Foo', 'stage'],
      ['escalation_level=L10', 'escalation_level'],
      ['escalation_level=L0', 'escalation_level'],
      ['escalation_level=2', 'escalation_level'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['page=0', 'page'],
      ['page=-3', 'page'],
      ['page=abc', 'page'],
      ['page=1e3x', 'page'],
      ['page=99999999999', 'page'],
      ['sort=asc', 'sort'],
      ['status=Open&foo=bar', 'foo'],
    ];
    await expectInvalidQueries(t, '/complaints', bearer(v.readKey), cases);
  });
});

describe('GET /api/v1/complaints/{id}', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    ({ t, v } = await appWithTenant());
  });
  afterEach(async () => t.close());

  it('answers the full record, with description and resolution, field for field as the domain has it', async () => {
    const states = await sixComplaints(t, v);
    for (const s of states) {
      const r = await get(t, `/complaints/${s.id}`, bearer(v.readKey));
      expect(r.status).toBe(200);
      // The response schema serialises the answer: it must not drop or change a field.
      expect(r.body).toEqual({
        success: true,
        data: await getComplaintDetail(t.store.db, { companyId: v.company.id }, s.id, t.clock.now()),
      });
      expect(r.body.data).toMatchObject({
        escalatr_id: s.id,
        status: s.status,
        stage: s.stage,
        escalation_level: s.level,
        description: 'It stopped cooling',
        title: 'Broken fridge',
      });
    }
    const resolved = (await get(t, `/complaints/${states[3].id}`, { 'x-api-key': v.adminKey })).body.data;
    expect(resolved.resolution).toEqual({ resolution_type: 'refund', amount_recovered: 1500, notes: null });
    expect(resolved.consumer).toEqual({ email: 'alice+volt@example.test', name: 'Alice' });
    const completed = (await get(t, `/complaints/${states[5].id}`, bearer(v.readKey))).body.data;
    expect(completed.resolution).toEqual({ resolution_type: null, amount_recovered: null, notes: 'Replaced the unit' });
    expect((await get(t, `/complaints/${states[0].id}`, bearer(v.readKey))).body.data.resolution).toBeNull();
  });

  it('answers another company’s complaint exactly like a missing one: 404', async () => {
    const other = await tenant(t, 'OTHR');
    const theirs = await file(t, other);
    const mine = await file(t, v);
    const foreign = await get(t, `/complaints/${theirs}`, bearer(v.adminKey));
    const missingId = theirs.replace('ESC-OTHR-', 'ESC-VOLT-').replace(/\d{5}$/, '99999');
    const missing = await get(t, `/complaints/${missingId}`, bearer(v.adminKey));
    expectError(foreign, 404, 'not_found');
    expectError(missing, 404, 'not_found');
    expect(Object.keys(foreign.body.error)).toEqual(Object.keys(missing.body.error));
    expect(foreign.body.error.message.replace(theirs, 'ID')).toBe(missing.body.error.message.replace(missingId, 'ID'));
    expect(JSON.stringify(foreign.body)).not.toContain('OTHR Corp');
    // The owner still sees it, and a session of the other company cannot see ours.
    expect((await get(t, `/complaints/${theirs}`, bearer(other.readKey))).status).toBe(200);
    const otherViewer = await session(t, other.company.id, 'viewer');
    expectError(await get(t, `/complaints/${mine}`, otherViewer.cookie), 404, 'not_found');
  });

  it('answers 404 for ids that are not complaint ids at all', async () => {
    for (const bad of [
      'nope',
      'ESC-VOLT-1',
      'ESC-volt-260417-00001',
      `ESC-VOLT-260417-${'9'.repeat(60)}`,
      '%00',
      "ESC-VOLT-260417-00001'--",
    ]) {
      expectError(await get(t, `/complaints/${encodeURIComponent(bad)}`, bearer(v.readKey)), 404, 'not_found');
    }
  });
});

describe('list totals (complaint_counts, kept by triggers)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(async () => t.close());

  /** The counts table must equal a plain count of the complaints, group by group. */
  async function expectCountsExact() {
    const { rows: counted } = await sql<CountRow>`
      select company_id, status, stage, level, held, flagged, count(*) as n from (
        select company_id, status, stage, level, case when claimed_by is null then 0 else 1 end as held,
          case when flagged_at is null then 0 else 1 end as flagged from complaints) c
      group by company_id, status, stage, level, held, flagged`.execute(t.store.db);
    const kept = await t.store.db.selectFrom('complaint_counts').selectAll().where('n', '!=', 0).execute();
    const key = (r: CountRow) =>
      `${r.company_id}/${r.status}/${r.stage}/${Number(r.level)}/${Number(r.held)}/${Number(r.flagged)}=${Number(r.n)}`;
    expect(kept.map(key).sort()).toEqual(counted.map(key).sort());
  }

  it('stays exact through every transition, for every company', async () => {
    const v = await tenant(t);
    const o = await tenant(t, 'OTHR');
    await sixComplaints(t, v);
    await sixComplaints(t, o);
    await expectCountsExact();
    const r = await get(t, '/complaints?stage=Closure', bearer(o.readKey));
    expect(r.body.total).toBe(3);
  });

  it('stays exact, and nothing deadlocks, when filings and steps on one company run concurrently', async () => {
    const v = await tenant(t);
    const existing = [await file(t, v), await file(t, v), await file(t, v)];
    const results = await Promise.allSettled([
      ...Array.from({ length: 8 }, () => file(t, v)),
      ...existing.flatMap((id) => [
        consumerStep(t, v, id, 'escalate'),
        consumerStep(t, v, id, 'messages', { body: 'hi' }),
        staffStep(t, v, id, 'claim'),
      ]),
      ...existing.map((id) => consumerStep(t, v, id, 'escalate')),
    ]);
    expect(results.filter((x) => x.status === 'rejected')).toEqual([]);
    await expectCountsExact();
    const all = await get(t, '/complaints?limit=100', bearer(v.readKey));
    expect(all.body.total).toBe(11);
    expect((await get(t, '/complaints?escalation_level=L3', bearer(v.readKey))).body.total).toBe(3);
  });

  it('counts held, unassigned and flagged complaints exactly, and lists them in order, through every change', async () => {
    const v = await tenant(t);
    const o = await tenant(t, 'OTHR');
    const states = await sixComplaints(t, v);
    const ids = states.map((s) => s.id);
    await sixComplaints(t, o);
    const flag = (id: string, on: boolean) =>
      sql`update complaints set flagged_at = ${on ? t.clock.now() : null} where escalatr_id = ${id}`.execute(
        t.store.db,
      );
    // Claimed by the admin key through the API (the sixth already is); flagged as the breach rule flags, by an
    // update of the row: whichever writer changes a complaint, the triggers move its count.
    await staffStep(t, v, ids[0], 'claim');
    await staffStep(t, v, ids[2], 'claim');
    await flag(ids[1], true);
    await flag(ids[2], true);
    await flag(ids[4], true);
    await expectCountsExact();

    type Row = { claimed_by: string | null; flagged_at: number | null; status: string };
    const held = (r: Row) => r.claimed_by !== null;
    const flagged = (r: Row) => r.flagged_at !== null;
    const escalated = (r: Row) => r.status === 'Escalated';
    // What the admin key claimed through the API is its "me".
    const { claimed_by: me } = await t.store.db
      .selectFrom('complaints')
      .select('claimed_by')
      .where('escalatr_id', '=', ids[5])
      .executeTakeFirstOrThrow();
    const mine = (r: Row) => r.claimed_by === me;

    /** The list's total and ids against the filter applied by hand to every complaint of the company. */
    const expectList = async (query: string, ...keep: Array<(r: Row) => boolean>) => {
      const rows = await t.store.db
        .selectFrom('complaints')
        .select(['escalatr_id', 'claimed_by', 'flagged_at', 'status'])
        .where('company_id', '=', v.company.id)
        .orderBy('created_at', 'desc')
        .orderBy('escalatr_id', 'desc')
        .execute();
      const want = rows.filter((r) => keep.every((k) => k(r))).map((r) => r.escalatr_id);
      const r = await get(t, `/complaints?${query}&limit=100`, bearer(v.adminKey));
      expect(r.status, query).toBe(200);
      expect(r.body.total, query).toBe(want.length);
      expect(
        r.body.data.map((c: { escalatr_id: string }) => c.escalatr_id),
        query,
      ).toEqual(want);
      return want.length;
    };
    const not = (k: (r: Row) => boolean) => (r: Row) => !k(r);
    const check = async () => {
      await expectCountsExact();
      const counts = [
        await expectList('assignee=me', mine),
        await expectList('assignee=none', not(held)),
        await expectList('flagged=true', flagged),
        await expectList('flagged=false', not(flagged)),
        await expectList('assignee=none&flagged=true', not(held), flagged),
        await expectList('assignee=me&flagged=false', mine, not(flagged)),
        await expectList('assignee=none&status=Escalated', not(held), escalated),
        await expectList('flagged=true&status=Escalated', flagged, escalated),
      ];
      // The other company's complaints are never counted here, and its own lists are untouched.
      expect((await get(t, '/complaints?assignee=none', bearer(o.adminKey))).body.total).toBe(5);
      expect((await get(t, '/complaints?flagged=true', bearer(o.adminKey))).body.total).toBe(0);
      return counts;
    };
    expect(await check()).toEqual([3, 3, 3, 3, 2, 2, 1, 2]);

    // Unflagging, letting go and re-holding, a status change of a held and flagged complaint, and a removal.
    await flag(ids[1], false);
    await sql`update complaints set claimed_by = null where escalatr_id = ${ids[0]}`.execute(t.store.db);
    await sql`update complaints set claimed_by = 'someone@else.test' where escalatr_id = ${ids[3]}`.execute(t.store.db);
    await consumerStep(t, v, ids[2], 'resolve', { resolution_type: 'refund', amount_recovered: 100 });
    await sql`delete from complaints where escalatr_id = ${ids[4]}`.execute(t.store.db);
    expect(await check()).toEqual([2, 2, 1, 4, 0, 1, 1, 0]);
  });

  it('reads one holder’s and the flagged page off their indexes in order, and their totals from the counts', async () => {
    const v = await tenant(t);
    const { db, statements } = watchedStatements(t.store);
    const planOf = async (filter: Partial<ComplaintFilter>) => {
      statements.length = 0;
      await listCompanyComplaints(db, v.company.id, { page: 1, limit: 25, ...filter });
      return (await queryPlan(t.store, statements[0])).join('\n');
    };
    // Without these, the page walked the company's (created_at, escalatr_id) index for the few that matched (every
    // complaint it has when none do); a holder's of one status, every complaint the person ever held.
    for (const [filter, index] of [
      [{ holder: 'agent@volt.test' }, 'complaints_company_holder'],
      [{ holder: 'agent@volt.test', status: 'Open' }, 'complaints_company_holder_status'],
      [{ flagged: true }, 'complaints_company_flagged_listed'],
      [{ flagged: true, status: 'Escalated' }, 'complaints_company_flagged_listed'],
    ] as const) {
      const plan = await planOf(filter);
      expect(plan, JSON.stringify(filter)).toContain(index);
      expect(plan, JSON.stringify(filter)).not.toMatch(/TEMP B-TREE|Sort/);
    }
    // A holder's list narrowed otherwise is walked, and counted, as that person's index entries: never row by row.
    if (t.store.profile.name === 'sqlite')
      for (const filter of [
        { holder: 'agent@volt.test', stage: 'Intake' as const },
        { holder: 'agent@volt.test', flagged: true },
        { holder: 'agent@volt.test', escalation_level: 'L2' as const },
      ]) {
        const plan = await planOf(filter);
        expect(plan, JSON.stringify(filter)).toMatch(/SEARCH complaints USING INDEX complaints_company_holder /);
        expect(plan, JSON.stringify(filter)).toMatch(
          /SEARCH complaints USING COVERING INDEX complaints_company_holder /,
        );
      }
    for (const filter of [
      { holder: null },
      { flagged: false },
      { holder: null, flagged: true, status: 'Open' as const },
    ]) {
      const plan = await planOf(filter);
      expect(plan, JSON.stringify(filter)).toContain('complaint_counts');
    }
  });
});
