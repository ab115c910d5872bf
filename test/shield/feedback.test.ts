import { sql } from 'kysely';
import { listFeedback } from '../../src/shield/feedback.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COUNTED_AHEAD } from '../../src/storage/counted-rows.js';
import { queryPlan, watchedStatements } from '../helpers/query-plan.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { CALM, EXTREME, postFeedback, processorFor, record } from './shield-helpers.js';

describe('shield feedback ingestion', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  beforeEach(async () => {
    t = await createTestApp();
    tenant = await seedTenant(t);
  });
  afterEach(async () => t.close());

  const rows = () => t.store.db.selectFrom('feedback_records').selectAll().orderBy('id').execute();

  it('accepts one record with 202 and stores it unscored until the processor runs', async () => {
    const res = await postFeedback(
      t,
      tenant.adminKey,
      record('zd-1', EXTREME, {
        source_url: 'https://zd.example.com/tickets/1',
        created_at: '2026-04-17T08:58:00Z',
        thread_id: 'th-1',
        customer_id: 'cu-1',
      }),
    );
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ success: true, data: { accepted: 1, duplicates: 0, invalid: [] } });
    const [stored] = await rows();
    expect(stored).toMatchObject({
      record_id: 'zd-1',
      source: 'ZendeskSupport',
      scored_at: null,
      escalation_level: null,
      thread_id: 'th-1',
      customer_id: 'cu-1',
    });
    expect(stored.source_created_at).toBe(Date.parse('2026-04-17T08:58:00Z'));

    const pass = await processorFor(t).tick();
    expect(pass.scored).toBe(1);
    const [scored] = await rows();
    expect(scored.scored_at).toBe(t.clock.now());
    expect(scored.escalation_level).toBe('extreme');
    expect(['high', 'extreme']).toContain(scored.emotional_intensity_level);
    expect(scored.sentiment_shift).toBeNull();
    expect(JSON.parse(scored.cues!)).toContain('legal_threat');
  });

  it('takes a batch, stores the valid records and reports each invalid one by index', async () => {
    const res = await postFeedback(t, tenant.adminKey, {
      records: [
        record('a', CALM),
        { id: 'b', source: 'ZendeskSupport' },
        record('c', 'x'.repeat(20_001)),
        record('d', CALM, { source_url: 'ftp://files.example.com/x' }),
        record('e', CALM, { created_at: 'yesterday' }),
        { id: 42, source: 'Z', content: 'hi' },
        record('f', CALM, { colour: 'blue' }),
        'not a record',
        record('g', CALM, { created_at: '2026-04-17T10:00:00' }),
        record('h', CALM),
      ],
    });
    expect(res.statusCode).toBe(202);
    const data = res.json().data;
    expect(data.accepted).toBe(2);
    expect(data.duplicates).toBe(0);
    expect(data.invalid).toEqual([
      { index: 1, code: 'missing_field', field: 'content', message: 'content is required' },
      { index: 2, code: 'too_long', field: 'content', message: 'content must be at most 20000 characters (got 20001)' },
      { index: 3, code: 'invalid_value', field: 'source_url', message: 'source_url must use http or https' },
      { index: 4, code: 'invalid_value', field: 'created_at', message: expect.stringContaining('ISO 8601') },
      { index: 5, code: 'invalid_type', field: 'id', message: 'id must be a string' },
      { index: 6, code: 'unknown_field', field: 'colour', message: expect.stringContaining('unknown field colour') },
      { index: 7, code: 'not_an_object', message: 'a feedback record must be a JSON object' },
      { index: 8, code: 'invalid_value', field: 'created_at', message: expect.stringContaining('ISO 8601') },
    ]);
    expect((await rows()).map((r) => r.record_id).sort()).toEqual(['a', 'h']);
  });

  it('skips duplicate record ids, in the same batch and across requests', async () => {
    const first = await postFeedback(t, tenant.adminKey, {
      records: [record('dup', CALM), record('dup', EXTREME), record('other', CALM)],
    });
    expect(first.json().data).toMatchObject({ accepted: 2, duplicates: 1 });
    const again = await postFeedback(t, tenant.adminKey, record('dup', EXTREME));
    expect(again.statusCode).toBe(202);
    expect(again.json().data).toEqual({ accepted: 0, duplicates: 1, invalid: [] });
    const stored = await rows();
    expect(stored).toHaveLength(2);
    expect(stored.find((r) => r.record_id === 'dup')!.content).toBe(CALM);
  });

  it('lets two companies use the same record id', async () => {
    const other = await seedTenant(t, { code: 'ACME' });
    expect((await postFeedback(t, tenant.adminKey, record('same', CALM))).json().data.accepted).toBe(1);
    expect((await postFeedback(t, other.adminKey, record('same', CALM))).json().data.accepted).toBe(1);
  });

  it('accepts a full batch of 1,000 records and refuses 1,001', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => record(`r-${i}`, `message ${i}`));
    const ok = await postFeedback(t, tenant.adminKey, { records: many });
    expect(ok.statusCode).toBe(202);
    expect(ok.json().data.accepted).toBe(1000);
    const tooMany = await postFeedback(t, tenant.adminKey, { records: [...many, record('r-1000', 'x')] });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().error).toMatchObject({
      code: 'validation_failed',
      message: expect.stringContaining('at most 1000'),
    });
    const scored = await processorFor(t).tick();
    expect(scored.scored).toBe(1000);
  });

  it('refuses bodies that are not a record or a batch, and invalid single records, writing nothing', async () => {
    const cases: Array<[unknown, number, string]> = [
      [[record('a', CALM)], 400, 'invalid_request'],
      [{ records: 'nope' }, 400, 'validation_failed'],
      [{ records: [] }, 400, 'validation_failed'],
      [{ records: [record('a', CALM)], extra: 1 }, 400, 'validation_failed'],
      [{ id: 'x', source: 'Z' }, 400, 'validation_failed'],
      [{ id: '', source: 'Z', content: 'hi' }, 400, 'validation_failed'],
      [{ id: 'x'.repeat(201), source: 'Z', content: 'hi' }, 400, 'validation_failed'],
      [{ id: 'x\n', source: 'Z', content: 'hi' }, 400, 'validation_failed'],
      [{ id: 'x', source: 'Z', content: '   ' }, 400, 'validation_failed'],
      [{ id: 'x', source: 'Z', content: 'nul \u0000 here' }, 400, 'validation_failed'],
    ];
    for (const [payload, status, code] of cases) {
      const res = await postFeedback(t, tenant.adminKey, payload);
      expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(status);
      expect(res.json().error.code).toBe(code);
    }
    const single = await postFeedback(t, tenant.adminKey, { id: 'x', source: 'Z' });
    expect(single.json().error.message).toBe('content is required');
    const text = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/feedback',
      headers: { ...bearer(tenant.adminKey), 'content-type': 'text/plain' },
      payload: 'hello',
    });
    // Fastify parses text/plain as a string: not a record, so refused like any other non-object body.
    expect(text.statusCode).toBe(400);
    expect(text.json().error.code).toBe('invalid_request');
    const broken = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/feedback',
      headers: { ...bearer(tenant.adminKey), 'content-type': 'application/json' },
      payload: '{"id":',
    });
    expect(broken.statusCode).toBe(400);
    expect(await rows()).toHaveLength(0);
  });

  it('refuses a body over the feedback limit with 413', async () => {
    const huge = JSON.stringify({ records: [record('big', 'x'.repeat(20_000))] }).replace(
      '"records"',
      `"pad":"${'y'.repeat(25 * 1024 * 1024)}","records"`,
    );
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/feedback',
      headers: { ...bearer(tenant.adminKey), 'content-type': 'application/json' },
      payload: huge,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('payload_too_large');
    expect(await rows()).toHaveLength(0);
  });

  it('needs an admin credential to ingest: 401 without or with a revoked key, 403 for a read key', async () => {
    const none = await t.app.http.inject({ method: 'POST', url: '/api/v1/feedback', payload: record('a', CALM) });
    expect(none.statusCode).toBe(401);
    const unknown = await postFeedback(t, 'esc_not_a_real_key', record('a', CALM));
    expect(unknown.statusCode).toBe(401);
    await t.store.db.updateTable('api_keys').set({ revoked_at: t.clock.now() }).where('scope', '=', 'admin').execute();
    const revoked = await postFeedback(t, tenant.adminKey, record('a', CALM));
    expect(revoked.statusCode).toBe(401);
    const readOnly = await postFeedback(t, tenant.readKey, record('a', CALM));
    expect(readOnly.statusCode).toBe(403);
    expect(readOnly.json().error.code).toBe('insufficient_scope');
    expect(await rows()).toHaveLength(0);
  });

  it('scores sentiment_shift against the earlier records of the same thread', async () => {
    await postFeedback(t, tenant.adminKey, {
      records: [record('t1', 'Thank you so much, this is wonderful and works perfectly!', { thread_id: 'th' })],
    });
    t.clock.advance(1000);
    await postFeedback(t, tenant.adminKey, {
      records: [
        record('t2', 'This is terrible. Still broken, I am furious and disgusted.', { thread_id: 'th' }),
        record('solo', CALM),
      ],
    });
    await processorFor(t).tick();
    const byId = Object.fromEntries((await rows()).map((r) => [r.record_id, r]));
    expect(byId.t1.sentiment_shift).toBeNull();
    expect(byId.t2.sentiment_shift).toBe('sentiment degraded');
    expect(byId.solo.sentiment_shift).toBeNull();
  });

  it('lists scored feedback newest first with levels, filtered by min_level and source', async () => {
    await postFeedback(t, tenant.adminKey, {
      records: [record('calm', CALM), record('angry', EXTREME, { source: 'Intercom' })],
    });
    t.clock.advance(1000);
    await postFeedback(t, tenant.adminKey, record('unscored-yet', EXTREME));
    const before = await t.app.http.inject({ method: 'GET', url: '/api/v1/feedback', headers: bearer(tenant.readKey) });
    expect(before.json()).toMatchObject({ success: true, total: 0, data: [] });
    await processorFor(t).tick();
    await postFeedback(t, tenant.adminKey, record('later', CALM)); // stored after the pass: not listed

    const all = await t.app.http.inject({ method: 'GET', url: '/api/v1/feedback', headers: bearer(tenant.readKey) });
    expect(all.statusCode).toBe(200);
    const body = all.json();
    expect(body).toMatchObject({ success: true, page: 1, limit: 25, total: 3 });
    expect(body.data[0].id).toBe('unscored-yet');
    const angry = body.data.find((d: { id: string }) => d.id === 'angry');
    expect(angry).toMatchObject({
      source: 'Intercom',
      content: EXTREME,
      levels: { escalation_level: 'extreme', sentiment_shift: null },
    });
    expect(angry.explanation.length).toBeGreaterThan(0);
    for (const s of angry.explanation) {
      expect(Object.keys(s).sort()).toEqual(['signal', 'span', 'weight']);
      expect(typeof s.weight).toBe('number');
      if (s.span) expect(EXTREME.slice(s.span.start, s.span.end)).toBe(s.span.text);
    }
    expect(angry.scored_at).toBe(new Date(t.clock.now()).toISOString());

    const high = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/feedback?min_level=high&source=Intercom',
      headers: bearer(tenant.readKey),
    });
    expect(high.json().data.map((d: { id: string }) => d.id)).toEqual(['angry']);
    const paged = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/feedback?page=2&limit=2',
      headers: bearer(tenant.readKey),
    });
    expect(paged.json()).toMatchObject({ page: 2, limit: 2, total: 3 });
    expect(paged.json().data).toHaveLength(1);

    for (const q of [
      'min_level=huge',
      'page=0',
      'limit=101',
      'limit=abc',
      'bogus=1',
      'cursor=',
      'cursor=abc',
      'cursor=a%2Bb',
      `cursor=${Buffer.from('1:ESC-VOLT-260417-00010').toString('base64url')}`,
      'cursor=start&page=2',
    ]) {
      const bad = await t.app.http.inject({
        method: 'GET',
        url: `/api/v1/feedback?${q}`,
        headers: bearer(tenant.readKey),
      });
      expect(bad.statusCode, q).toBe(400);
      expect(bad.json().error.code).toBe('invalid_query');
    }
    const one = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/feedback/angry',
      headers: bearer(tenant.readKey),
    });
    expect(one.json().data.levels.escalation_level).toBe('extreme');
  });

  it('counts the list up to the bound past its page, says when more match, and pages on past it', async () => {
    // More scored records than the list counts past a page, written with SQL, newest first: every 100th high, every
    // other 150th extreme, every other 97th scored without a level (its scoring failed), the rest none; every 7th
    // from Twitter, the rest from Intercom.
    const made = COUNTED_AHEAD + 60;
    const now = t.clock.now();
    await sql`insert into feedback_records (id, company_id, record_id, source, content, received_at, scored_at,
        escalation_level, emotional_intensity_level, sentiment_score)
      with recursive n(i) as (select 1 union all select i + 1 from n where i < ${sql.lit(made)})
      select 'fbr_bulk' || i, ${tenant.company.id}, 'bulk-' || i,
        case when i % 7 = 0 then 'Twitter' else 'Intercom' end, 'text', ${sql.lit(now)} - i * 1000, ${sql.lit(now)},
        case when i % 100 = 0 then 'high' when i % 150 = 0 then 'extreme' when i % 97 = 0 then null else 'none' end,
        'low', 0
      from n`.execute(t.store.db);
    const list = async (q: string) => {
      const res = await t.app.http.inject({
        method: 'GET',
        url: `/api/v1/feedback?${q}`,
        headers: bearer(tenant.readKey),
      });
      expect(res.statusCode).toBe(200);
      return res.json() as { total: number; total_exact: boolean; data: Array<{ id: string; received_at: string }> };
    };
    const first = await list('limit=20');
    expect(first).toMatchObject({ total: COUNTED_AHEAD, total_exact: false });
    expect(first.data.map((d) => d.id)).toEqual(Array.from({ length: 20 }, (_, i) => `bulk-${i + 1}`));
    const past = await list(`limit=20&page=${COUNTED_AHEAD / 20 + 1}`);
    expect(past).toMatchObject({ total: made, total_exact: true });
    expect(past.data.map((d) => d.id)).toEqual(Array.from({ length: 20 }, (_, i) => `bulk-${COUNTED_AHEAD + i + 1}`));
    // At or above a level: both levels' records, merged newest first, page after page.
    const atLeastHigh = Array.from({ length: made }, (_, i) => i + 1)
      .filter((i) => i % 100 === 0 || i % 150 === 0)
      .map((i) => `bulk-${i}`);
    const high1 = await list('min_level=high&limit=30');
    expect(high1).toMatchObject({ total: atLeastHigh.length, total_exact: true });
    expect(high1.data.map((d) => d.id)).toEqual(atLeastHigh.slice(0, 30));
    expect((await list('min_level=high&limit=30&page=3')).data.map((d) => d.id)).toEqual(atLeastHigh.slice(60, 90));
    const extreme = await list('min_level=extreme&limit=100&source=Intercom');
    expect(extreme.data.map((d) => d.id)).toEqual(
      atLeastHigh.filter((id) => Number(id.slice(5)) % 100 !== 0 && Number(id.slice(5)) % 7 !== 0).slice(0, 100),
    );
    // One source at any level: its records of every level merged newest first, those without a level among them.
    const twitter = Array.from({ length: made }, (_, i) => i + 1)
      .filter((i) => i % 7 === 0)
      .map((i) => `bulk-${i}`);
    for (const page of [1, 2, 29]) {
      const got = await list(`source=Twitter&limit=50&page=${page}`);
      expect(got).toMatchObject({ total: twitter.length, total_exact: true });
      expect(got.data.map((d) => d.id)).toEqual(twitter.slice((page - 1) * 50, page * 50));
    }
    expect(twitter).toContain('bulk-679'); // 7 × 97: scored without a level
    // Read through with a cursor: the same records in the same order, page after page, to a null next_cursor.
    type CursorPage = Awaited<ReturnType<typeof list>> & { next_cursor: string | null };
    const readThrough = async (q: string, limit: number) => {
      const ids: string[] = [];
      const pages: CursorPage[] = [];
      for (let cursor = 'start'; ;) {
        const got = (await list(`${q}&limit=${limit}&cursor=${cursor}`)) as CursorPage;
        ids.push(...got.data.map((d) => d.id));
        pages.push(got);
        if (got.next_cursor === null) return { ids, pages };
        expect(got.data, q).toHaveLength(limit);
        cursor = got.next_cursor;
      }
    };
    expect((await readThrough('min_level=high', 30)).ids).toEqual(atLeastHigh);
    expect((await readThrough('source=Twitter', 50)).ids).toEqual(twitter);
    const everything = await readThrough('', 100);
    expect(everything.ids).toEqual(Array.from({ length: made }, (_, i) => `bulk-${i + 1}`));
    // A cursor page counts from its place on: bounded at first, exact near the end.
    expect(everything.pages[0]).toMatchObject({ total: COUNTED_AHEAD, total_exact: false });
    expect(everything.pages.at(-1)).toMatchObject({ total: made % 100, total_exact: true });
    // Each branch of one source reads that source's index, never a walk of every record of the company.
    const { db: watched, statements } = watchedStatements(t.store);
    for (const minLevel of [undefined, 'high'] as const) {
      statements.length = 0;
      await listFeedback(watched, tenant.company.id, { page: 1, limit: 25, source: 'Twitter', minLevel });
      const union = statements.find((q) => q.sql.includes('union all'))!;
      const plan = (await queryPlan(t.store, union)).join('\n');
      expect(plan, String(minLevel)).toContain('feedback_scored_by_source');
      expect(plan, String(minLevel)).not.toContain('feedback_scored_by_level');
      expect(plan, String(minLevel)).not.toContain('feedback_company_received');
    }
    // A cursor page of each kind reads a range of its index from the place: never a walk to it.
    const after = { time: now - 5_000_500, id: 'fbr_bulk5000' };
    for (const filter of [{}, { source: 'Twitter' }, { minLevel: 'high' as const }]) {
      statements.length = 0;
      await listFeedback(watched, tenant.company.id, { page: 1, limit: 25, ...filter, after });
      const page = statements.find((q) => /order by/i.test(q.sql))!;
      const plan = (await queryPlan(t.store, page)).join('\n');
      if (t.store.profile.name === 'sqlite') expect(plan, JSON.stringify(filter)).toMatch(/received_at<\?/);
      else expect(plan, JSON.stringify(filter)).toMatch(/Index Cond: .*received_at <=/s);
      expect(plan, JSON.stringify(filter)).not.toMatch(/SCAN feedback_records|Seq Scan on feedback_records/);
    }
    expect(await list('source=Intercom&limit=5')).toMatchObject({ total: made - twitter.length, total_exact: true });
    expect((await list('source=Twitter&min_level=high&limit=100')).data.map((d) => d.id)).toEqual(
      atLeastHigh.filter((id) => Number(id.slice(5)) % 7 === 0),
    );
    expect(await list('min_level=high&source=Zendesk')).toMatchObject({ total: 0, data: [] });
    const other = await seedTenant(t, { code: 'ACME' });
    const theirs = await t.app.http.inject({ method: 'GET', url: '/api/v1/feedback', headers: bearer(other.readKey) });
    expect(theirs.json()).toMatchObject({ total: 0, total_exact: true, data: [] });
  });

  it("never shows another company's feedback: 404 like a missing one, and not in lists", async () => {
    const other = await seedTenant(t, { code: 'ACME' });
    await postFeedback(t, other.adminKey, record('theirs', EXTREME));
    await processorFor(t).tick();
    const list = await t.app.http.inject({ method: 'GET', url: '/api/v1/feedback', headers: bearer(tenant.readKey) });
    expect(list.json().total).toBe(0);
    const one = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/feedback/theirs',
      headers: bearer(tenant.readKey),
    });
    expect(one.statusCode).toBe(404);
    expect(one.json().error.code).toBe('not_found');
    const missing = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/feedback/nope',
      headers: bearer(tenant.readKey),
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toEqual(one.json().error);
  });
});
