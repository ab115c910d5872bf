import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transact } from '../../src/domain/context.js';
import { emitEvent } from '../../src/domain/events.js';
import { bearer, dialectName, type TestApp } from '../helpers/harness.js';
import {
  consumerStep,
  endpointRow,
  expectError,
  appWithTenant,
  file,
  get,
  session,
  staffStep,
  tenant,
  type Tenant,
  expectInvalidQueries,
} from './platform-fixtures.js';

const ROW_FIELDS = ['id', 'event', 'timestamp', 'data', 'delivery_status', 'deliveries'];
const DELIVERY_FIELDS = [
  'id',
  'endpoint_id',
  'destination_id',
  'status',
  'attempt_count',
  'next_attempt_at',
  'last_status_code',
];

interface FeedRow {
  id: string;
  event: string;
  timestamp: string;
  data: Record<string, unknown>;
  delivery_status: string;
  deliveries: Array<Record<string, unknown>>;
}

const ids = (rows: FeedRow[]) => rows.map((r) => r.id);

/** The company's events as stored, newest first: what the feed must answer. */
async function storedEvents(t: TestApp, companyId: string) {
  const rows = await t.store.db
    .selectFrom('events')
    .selectAll()
    .where('company_id', '=', companyId)
    .orderBy('seq', 'desc')
    .execute();
  return rows.map((r) => ({
    ...r,
    parsed: JSON.parse(r.body) as { id: string; event: string; timestamp: string; data: Record<string, unknown> },
  }));
}

/** A little history: complaints filed, escalated, messaged, claimed and resolved, a minute apart. */
async function history(t: TestApp, v: Tenant) {
  const tick = () => t.clock.advance(60_000);
  const a = await file(t, v);
  tick();
  const b = await file(t, v, { complaint_category: 'Banking' });
  tick();
  await consumerStep(t, v, a, 'escalate');
  tick();
  await consumerStep(t, v, a, 'messages', { body: 'Any news?' });
  tick();
  await staffStep(t, v, b, 'claim');
  tick();
  await consumerStep(t, v, b, 'resolve', { resolution_type: 'refund', amount_recovered: 10 });
  return { a, b };
}

describe('GET /api/v1/events', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    ({ t, v } = await appWithTenant());
  });
  afterEach(async () => t.close());

  it('lists the stored events newest first, each with its parsed data, under both headers and for sessions', async () => {
    await history(t, v);
    const stored = await storedEvents(t, v.company.id);
    expect(stored.map((e) => e.name)).toEqual([
      'complaint.resolved',
      'complaint.claimed',
      'message.new',
      'complaint.escalated',
      'complaint.created',
      'complaint.created',
    ]);
    const viewer = await session(t, v.company.id, 'viewer');
    for (const headers of [bearer(v.readKey), { 'x-api-key': v.adminKey }, viewer.cookie]) {
      const r = await get(t, '/events', headers);
      expect(r.status).toBe(200);
      expect(Object.keys(r.body)).toEqual(['success', 'page', 'limit', 'total', 'data', 'total_exact']);
      expect(r.body).toMatchObject({ success: true, page: 1, limit: 25, total: 6, total_exact: true });
      const rows = r.body.data as FeedRow[];
      expect(ids(rows)).toEqual(stored.map((e) => e.id));
      rows.forEach((row, i) => {
        expect(Object.keys(row)).toEqual(ROW_FIELDS);
        // The form the feed carries as it is (feedPageJson): these four keys in this order, data last.
        expect(Object.keys(stored[i].parsed)).toEqual(['id', 'event', 'timestamp', 'data']);
        // Exactly what a webhook receiver gets in the body: same id, name, timestamp and data.
        expect({ id: row.id, event: row.event, timestamp: row.timestamp, data: row.data }).toEqual(stored[i].parsed);
        expect(row.delivery_status).toBe('none');
        expect(row.deliveries).toEqual([]);
      });
    }
    // Each row is its stored body's own bytes (nothing parsed and written again): spacing JSON.stringify would not
    // write, put into one stored body, comes back as it is.
    const spaced = stored[0].body.replace('"data":{', '"data":{ ');
    await t.store.db.updateTable('events').set({ body: spaced }).where('id', '=', stored[0].id).execute();
    const raw = await t.app.http.inject({ method: 'GET', url: '/api/v1/events', headers: bearer(v.readKey) });
    expect(raw.body).toContain(`${spaced.slice(0, -1)},"delivery_status":"none","deliveries":[]}`);
    expect(raw.json().data[0].data).toEqual(stored[0].parsed.data);
    const escalated = (await get(t, '/events?event=complaint.escalated', bearer(v.readKey))).body.data[0];
    expect(escalated.data).toMatchObject({
      status: 'Escalated',
      escalation_level: 'L2',
      to_level: 'L2',
      trigger: 'manual',
    });
  });

  it('shows each event’s delivery state and its per-endpoint deliveries as the worker leaves them', async () => {
    const before = await file(t, v);
    const all = await endpointRow(t, v.company.id, ['*']);
    const onlyEscalations = await endpointRow(t, v.company.id, ['complaint.escalated']);
    t.clock.advance(1000);
    await consumerStep(t, v, before, 'escalate');
    t.clock.advance(1000);
    await consumerStep(t, v, before, 'messages', { body: 'hello' });

    let rows = (await get(t, '/events', bearer(v.readKey))).body.data as FeedRow[];
    expect(rows.map((r) => [r.event, r.delivery_status, r.deliveries.length])).toEqual([
      ['message.new', 'pending', 1],
      ['complaint.escalated', 'pending', 2],
      ['complaint.created', 'none', 0],
    ]);
    const escalation = rows[1];
    expect(escalation.deliveries.map((d) => d.endpoint_id).sort()).toEqual([all, onlyEscalations].sort());
    // An event's deliveries are listed by id, whatever order the store reads them in.
    const deliveryIds = escalation.deliveries.map((d) => d.id as string);
    expect(deliveryIds).toEqual([...deliveryIds].sort());
    for (const d of escalation.deliveries) {
      expect(Object.keys(d)).toEqual(DELIVERY_FIELDS);
      expect(d).toMatchObject({
        status: 'pending',
        attempt_count: 0,
        destination_id: null,
        last_status_code: null,
        next_attempt_at: escalation.timestamp,
      });
    }

    // What the delivery worker would write: one endpoint answered 200, the other 500 twice with a retry scheduled.
    const retryAt = t.clock.now() + 300_000;
    const [ok, failing] = escalation.deliveries.map((d) => d.id as string);
    await t.store.db
      .updateTable('deliveries')
      .set({ status: 'success', attempt_count: 1, next_attempt_at: null, last_status_code: 200 })
      .where('id', '=', ok)
      .execute();
    await t.store.db
      .updateTable('deliveries')
      .set({ status: 'failed', attempt_count: 2, next_attempt_at: retryAt, last_status_code: 500 })
      .where('id', '=', failing)
      .execute();
    await t.store.db.updateTable('events').set({ delivery_status: 'failed' }).where('id', '=', escalation.id).execute();
    await t.store.db.updateTable('events').set({ delivery_status: 'dead' }).where('id', '=', rows[0].id).execute();

    rows = (await get(t, '/events', bearer(v.readKey))).body.data as FeedRow[];
    expect(rows[1].delivery_status).toBe('failed');
    // On PostgreSQL the settled one now lives in the delivered history's partition, the other in the queue's.
    expect(rows[1].deliveries.map((d) => d.id)).toEqual(deliveryIds);
    expect(rows[1].deliveries.find((d) => d.id === ok)).toEqual({
      id: ok,
      endpoint_id: expect.any(String),
      destination_id: null,
      status: 'success',
      attempt_count: 1,
      next_attempt_at: null,
      last_status_code: 200,
    });
    expect(rows[1].deliveries.find((d) => d.id === failing)).toMatchObject({
      status: 'failed',
      attempt_count: 2,
      next_attempt_at: new Date(retryAt).toISOString(),
      last_status_code: 500,
    });
    expect(rows[0].delivery_status).toBe('dead');
    for (const status of ['pending', 'success', 'failed', 'dead', 'none']) {
      const r = await get(t, `/events?status=${status}`, bearer(v.readKey));
      expect(ids(r.body.data), status).toEqual(rows.filter((x) => x.delivery_status === status).map((x) => x.id));
      expect(r.body.total).toBe(r.body.data.length);
    }
  });

  it('applies every filter and their combinations', async () => {
    const { a, b } = await history(t, v);
    await endpointRow(t, v.company.id);
    await consumerStep(t, v, a, 'escalate');
    const stored = await storedEvents(t, v.company.id);
    const names = [
      undefined,
      'complaint.created',
      'complaint.escalated',
      'message.new',
      'complaint.resolved',
      'webhook.test',
    ];
    for (const event of names) {
      for (const status of [undefined, 'none', 'pending']) {
        for (const complaint of [undefined, a, b, 'ESC-VOLT-260417-99999']) {
          const qs = new URLSearchParams();
          if (event) qs.set('event', event);
          if (status) qs.set('status', status);
          if (complaint) qs.set('escalatr_id', complaint);
          const expected = stored.filter(
            (e) =>
              (!event || e.name === event) &&
              (!status || e.delivery_status === status) &&
              (!complaint || e.complaint_id === complaint),
          );
          const r = await get(t, `/events?${qs}`, bearer(v.readKey));
          expect(r.status, qs.toString()).toBe(200);
          expect(r.body.total, qs.toString()).toBe(expected.length);
          expect(ids(r.body.data), qs.toString()).toEqual(expected.map((e) => e.id));
        }
      }
    }
  });

  it('pages newest first: the short last page, and past the end an empty page with the right total', async () => {
    await history(t, v);
    const all = (await storedEvents(t, v.company.id)).map((e) => e.id);
    const page = async (p: number, limit: number, extra = '') =>
      (await get(t, `/events?page=${p}&limit=${limit}${extra}`, bearer(v.readKey))).body;
    expect(ids((await page(1, 4)).data)).toEqual(all.slice(0, 4));
    expect(await page(2, 4)).toMatchObject({ page: 2, limit: 4, total: 6 });
    expect(ids((await page(2, 4)).data)).toEqual(all.slice(4));
    expect(await page(3, 4)).toEqual({ success: true, page: 3, limit: 4, total: 6, total_exact: true, data: [] });
    expect(await page(500, 100)).toEqual({
      success: true,
      page: 500,
      limit: 100,
      total: 6,
      total_exact: true,
      data: [],
    });
    expect(await page(2, 1, '&event=complaint.created')).toMatchObject({
      total: 2,
      data: [{ event: 'complaint.created' }],
    });
    expect(await page(3, 1, '&event=complaint.created')).toEqual({
      success: true,
      page: 3,
      limit: 1,
      total: 2,
      total_exact: true,
      data: [],
    });
  });

  it('never shows another company’s events, by any filter or cursor', async () => {
    const other = await tenant(t, 'OTHR');
    const theirs = await file(t, other);
    await consumerStep(t, other, theirs, 'escalate');
    await endpointRow(t, other.company.id);
    await consumerStep(t, other, theirs, 'escalate');
    const mine = await file(t, v);
    const theirEvents = (await storedEvents(t, other.company.id)).map((e) => e.id);

    const r = await get(t, '/events?limit=100', bearer(v.readKey));
    expect(r.body.total).toBe(1);
    expect(r.body.data.map((e: FeedRow) => e.data.escalatr_id)).toEqual([mine]);
    expect(JSON.stringify(r.body)).not.toContain('OTHR');
    expect((await get(t, `/events?escalatr_id=${theirs}`, bearer(v.readKey))).body).toEqual({
      success: true,
      page: 1,
      limit: 25,
      total: 0,
      total_exact: true,
      data: [],
    });
    expect((await get(t, '/events?status=pending', bearer(v.readKey))).body.total).toBe(0);
    for (const id of theirEvents) {
      const cursor = await get(t, `/events?after=${id}`, bearer(v.readKey));
      expectError(cursor, 400, 'invalid_query');
      expect(cursor.body.error.details).toEqual({ parameter: 'after' });
    }
    expect((await get(t, '/events', bearer(other.readKey))).body.total).toBe(3);
  });

  it('refuses every bad query parameter with 400 invalid_query naming it', async () => {
    await file(t, v);
    const [newest] = await storedEvents(t, v.company.id);
    const cases: Array<[string, string]> = [
      ['event=complaint.exploded', 'event'],
      ['event=', 'event'],
      ['event=Complaint.Created', 'event'],
      ['status=delivered', 'status'],
      ['status=PENDING', 'status'],
      ['escalatr_id=nope', 'escalatr_id'],
      ['escalatr_id=ESC-VOLT-1', 'escalatr_id'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=ten', 'limit'],
      ['page=0', 'page'],
      ['page=1.5', 'page'],
      ['after=', 'after'],
      ['after=123', 'after'],
      ['after=evt_UPPERCASE0000000000', 'after'],
      [`after=evt_${'a'.repeat(20)}`, 'after'],
      [`after=${newest.id}&page=2`, 'page'],
      ['cursor=abc', 'cursor'],
      ['event=message.new&since=2026-01-01', 'since'],
    ];
    await expectInvalidQueries(t, '/events', bearer(v.readKey), cases);
  });
});

describe('GET /api/v1/events?after= (the cursor)', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    ({ t, v } = await appWithTenant());
  });
  afterEach(async () => t.close());

  /** One poll: the page after the cursor and the cursor for next time. */
  const poll = async (cursor: string, extra = '') => {
    const r = await get(t, `/events?after=${cursor}${extra}`, bearer(v.readKey));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as { page: number; limit: number; total: number; next_cursor: string; data: FeedRow[] };
  };

  it('reads oldest first from the cursor, with next_cursor and the count still to read, as writes land between polls', async () => {
    const c = await file(t, v);
    const [start] = await storedEvents(t, v.company.id);
    const seen: string[] = [];
    let cursor = start.id;

    let p = await poll(cursor);
    expect(p).toEqual({
      success: true,
      page: 1,
      limit: 25,
      total: 0,
      total_exact: true,
      next_cursor: start.id,
      data: [],
    });

    await consumerStep(t, v, c, 'escalate');
    await consumerStep(t, v, c, 'messages', { body: 'one' });
    await consumerStep(t, v, c, 'messages', { body: 'two' });
    p = await poll(cursor, '&limit=2');
    expect(p.total).toBe(3);
    expect(p.data.map((e) => e.event)).toEqual(['complaint.escalated', 'message.new']);
    expect(p.next_cursor).toBe(p.data[1].id);
    seen.push(...ids(p.data));
    cursor = p.next_cursor;

    await consumerStep(t, v, c, 'escalate');
    p = await poll(cursor, '&limit=2');
    expect(p.total).toBe(2);
    expect(p.data.map((e) => e.event)).toEqual(['message.new', 'complaint.escalated']);
    seen.push(...ids(p.data));
    cursor = p.next_cursor;

    p = await poll(cursor);
    expect(p).toMatchObject({ total: 0, next_cursor: cursor, data: [] });

    for (let i = 0; i < 7; i++) await consumerStep(t, v, c, 'messages', { body: `m${i}` });
    let wroteMidway = false;
    while (true) {
      p = await poll(cursor, '&limit=3');
      if (!p.data.length) break;
      seen.push(...ids(p.data));
      cursor = p.next_cursor;
      // A write landing while the poller is halfway through the backlog is read after it, in order.
      if (!wroteMidway) await consumerStep(t, v, c, 'escalate');
      wroteMidway = true;
    }

    const expected = (await storedEvents(t, v.company.id))
      .reverse()
      .slice(1)
      .map((e) => e.id);
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(12);
  });

  it('after=start is the position before the first event: an empty company, then every event exactly once', async () => {
    // Before anything happened: an empty page, and `start` again as the cursor to keep polling with.
    let p = await poll('start');
    expect(p).toEqual({
      success: true,
      page: 1,
      limit: 25,
      total: 0,
      total_exact: true,
      next_cursor: 'start',
      data: [],
    });

    const c = await file(t, v);
    const seen: string[] = [];
    let cursor = 'start';
    p = await poll(cursor, '&limit=2');
    expect(p.total).toBe(1);
    expect(p.data.map((e) => e.event)).toEqual(['complaint.created']);
    seen.push(...ids(p.data));
    cursor = p.next_cursor;
    expect(cursor).toBe(p.data[0].id);

    // New events commit between polls; the poller follows next_cursor through backlog and new arrivals alike.
    for (let round = 0; round < 4; round++) {
      await consumerStep(t, v, c, 'messages', { body: `r${round}-a` });
      await consumerStep(t, v, c, 'messages', { body: `r${round}-b` });
      await consumerStep(t, v, c, 'messages', { body: `r${round}-c` });
      p = await poll(cursor, '&limit=2');
      expect(p.data).toHaveLength(2);
      seen.push(...ids(p.data));
      cursor = p.next_cursor;
    }
    for (p = await poll(cursor, '&limit=2'); p.data.length; p = await poll(cursor, '&limit=2')) {
      seen.push(...ids(p.data));
      cursor = p.next_cursor;
    }
    const everyEvent = (await storedEvents(t, v.company.id)).reverse().map((e) => e.id);
    expect(everyEvent).toHaveLength(13);
    expect(seen).toEqual(everyEvent);

    // Filters apply from the start too, and the count is of what is left to read.
    const created = await poll('start', '&event=complaint.created');
    expect(created).toMatchObject({ total: 1, next_cursor: everyEvent[0] });
    const full = await poll('start', '&limit=5');
    expect(full.total).toBe(13);
    expect(ids(full.data)).toEqual(everyEvent.slice(0, 5));
  });

  it('after=start sees only the caller’s events, and page beside it is refused', async () => {
    const acme = await tenant(t, 'ACME');
    await file(t, acme);
    expect(await poll('start')).toMatchObject({ total: 0, data: [], next_cursor: 'start' });
    await file(t, v);
    const mine = await poll('start');
    expect(mine.data.map((e) => e.data.escalatr_id)).toEqual([expect.stringMatching(/^ESC-VOLT-/)]);
    const r = await get(t, '/events?after=start&page=2', bearer(v.readKey));
    expectError(r, 400, 'invalid_query');
    expect(r.body.error.details).toEqual({ parameter: 'page' });
    for (const bad of ['START', 'start ', 'begin', 'startevt_aaaaaaaaaaaaaaaaaaaa']) {
      const refused = await get(t, `/events?after=${encodeURIComponent(bad)}`, bearer(v.readKey));
      expectError(refused, 400, 'invalid_query');
      expect(refused.body.error.details, bad).toEqual({ parameter: 'after' });
    }
  });

  it('combines the cursor with filters, oldest first', async () => {
    const c = await file(t, v);
    const [start] = await storedEvents(t, v.company.id);
    const other = await file(t, v);
    for (let i = 0; i < 3; i++) {
      await consumerStep(t, v, c, 'escalate');
      await consumerStep(t, v, other, 'messages', { body: `m${i}` });
    }
    const escalations = await poll(start.id, '&event=complaint.escalated');
    expect(escalations.data.map((e) => [e.event, e.data.to_level])).toEqual([
      ['complaint.escalated', 'L2'],
      ['complaint.escalated', 'L3'],
      ['complaint.escalated', 'L4'],
    ]);
    const forOther = await poll(start.id, `&escalatr_id=${other}&limit=2`);
    expect(forOther.total).toBe(4);
    expect(forOther.data.map((e) => e.event)).toEqual(['complaint.created', 'message.new']);
    const rest = await poll(forOther.next_cursor, `&escalatr_id=${other}&limit=100`);
    expect(rest.data.map((e) => e.event)).toEqual(['message.new', 'message.new']);
  });

  it.each(['an event id', 'start'])(
    'never skips or repeats while many writers commit concurrently with the polling, from %s',
    async (from) => {
      const complaints = [await file(t, v), await file(t, v), await file(t, v), await file(t, v)];
      const [start] = await storedEvents(t, v.company.id);
      const seen: string[] = [];
      let cursor = from === 'start' ? 'start' : start.id;
      let writing = true;
      let pollsFindingEventsMidWrite = 0;
      // Writers on four complaints at once; on PostgreSQL these are concurrent transactions on separate connections.
      const writers = Promise.all(
        complaints.map(async (c, i) => {
          for (let k = 0; k < 10; k++) await consumerStep(t, v, c, 'messages', { body: `w${i}-${k}` });
        }),
      ).finally(() => {
        writing = false;
      });
      const poller = (async () => {
        let polls = 0;
        while (writing || polls === 0) {
          const p = await poll(cursor, '&limit=7');
          if (p.data.length && writing) pollsFindingEventsMidWrite++;
          seen.push(...ids(p.data));
          cursor = p.next_cursor;
          polls++;
          // Let the writers' I/O run between polls (a poll that finds nothing would otherwise never give way).
          await new Promise((resolve) => setImmediate(resolve));
        }
        // Drain what committed after the last poll.
        for (let p = await poll(cursor, '&limit=7'); p.data.length; p = await poll(cursor, '&limit=7')) {
          seen.push(...ids(p.data));
          cursor = p.next_cursor;
        }
      })();
      await Promise.all([writers, poller]);
      const expected = (await storedEvents(t, v.company.id))
        .reverse()
        .filter((e) => from === 'start' || e.seq > start.seq)
        .map((e) => e.id);
      expect(expected).toHaveLength(from === 'start' ? 44 : 40);
      expect(seen).toEqual(expected);
      // The polls really did interleave with the writes.
      expect(pollsFindingEventsMidWrite).toBeGreaterThan(1);
    },
  );

  it.runIf(dialectName === 'postgres')(
    'does not read past an event whose transaction has not committed (PostgreSQL)',
    async () => {
      const c = await file(t, v);
      const [start] = await storedEvents(t, v.company.id);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let firstWritten!: () => void;
      const written = new Promise<void>((resolve) => (firstWritten = resolve));
      const emit = (message: string, hold: boolean) =>
        transact(t.app.ctx, async (work) => {
          await emitEvent(t.app.ctx, work, {
            companyId: v.company.id,
            name: 'message.new',
            complaintId: c,
            data: { escalatr_id: c, message: message },
          });
          if (hold) {
            firstWritten();
            await held;
          }
        });
      // The first writer takes its seq and holds its transaction open; the second must wait for the company row.
      const slow = emit('first', true);
      await written;
      const fast = emit('second', false);
      const during = await poll(start.id);
      expect(during.data).toEqual([]);
      release();
      await Promise.all([slow, fast]);
      const after = await poll(start.id);
      expect(after.data.map((e) => e.data.message)).toEqual(['first', 'second']);
    },
  );
});
