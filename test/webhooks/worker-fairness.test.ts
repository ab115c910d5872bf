import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { AttemptOutcome } from '../../src/queue/attempt.js';
import { AdaptiveLimits, WIDEN_AFTER, type ReceiverConcurrency } from '../../src/webhooks/worker/adaptive-limits.js';
import { FairQueues } from '../../src/webhooks/worker/fair-queues.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';

const row = (company: string, receiver: string, n: number) => ({ company, receiver, id: `${receiver}${n}` });
type Row = ReturnType<typeof row>;

/** Starts what the queues allow in `slots` more slots; returns the ids started, in order. */
function take(q: FairQueues<Row>, slots: number): string[] {
  const started: string[] = [];
  q.takeInTurn(
    () => started.length < slots,
    (item) => {
      started.push(item.id);
      q.began(item);
      return true;
    },
  );
  return started;
}

describe('fair queues: companies in turn, then their receivers', () => {
  it("a company's backlog gets one slot per turn like any other company, and never more than its cap", () => {
    const q = new FairQueues<Row>({ companyCap: 3, receiverLimit: () => 8, heldPerSlot: 4, claimPerSlot: 1 });
    // A: a backlog on two receivers, claimed first; B and C: one row each, claimed after it.
    q.add([1, 2, 3, 4, 5].flatMap((n) => [row('A', 'a1', n), row('A', 'a2', n)]));
    q.add([row('B', 'b', 1), row('C', 'c', 1), row('C', 'c', 2)]);
    expect(take(q, 4)).toEqual(['a11', 'b1', 'c1', 'a21']);
    // The next turn starts after the last company served; B has nothing left; A reaches its cap of 3.
    expect(take(q, 10)).toEqual(['c2', 'a12']);
    expect(q.sendingFor('A')).toBe(3);
    expect(take(q, 10)).toEqual([]); // A at its cap; nobody else waits
    q.ended(row('A', 'a1', 1));
    expect(take(q, 10)).toEqual(['a22']); // A's receivers in turn too
  });

  it('gives back rows beyond a company’s held share and leaves full companies out of the next claim', () => {
    const q = new FairQueues<Row>({ companyCap: 1, receiverLimit: () => 4, heldPerSlot: 2, claimPerSlot: 1 });
    const claimed = [row('A', 'a1', 1), row('A', 'a2', 1), row('A', 'a1', 2), row('B', 'b', 1)];
    const { kept, excess } = q.split(claimed);
    expect(kept.map((r) => r.id)).toEqual(['a11', 'a21', 'b1']);
    expect(excess.map((r) => r.id)).toEqual(['a12']);
    q.add(kept);
    expect(q.saturated().companies.sort()).toEqual(['A', 'B']); // a cap's worth (1) waiting each
    expect(take(q, 10)).toEqual(['a11', 'b1']);
    expect(q.saturated().companies).toEqual(['A']); // A still has one waiting (its cap is in flight)
  });

  it("follows each receiver's current (adaptive) limit", () => {
    const limits = new Map([['dead', 1]]);
    const q = new FairQueues<Row>({
      companyCap: 10,
      receiverLimit: (r) => limits.get(r) ?? 4,
      heldPerSlot: 4,
      claimPerSlot: 1,
    });
    q.add([1, 2, 3].flatMap((n) => [row('A', 'dead', n), row('A', 'ok', n)]));
    expect(take(q, 10)).toEqual(['dead1', 'ok1', 'ok2', 'ok3']);
    expect(q.saturated().receivers).toContain('dead');
    expect(q.startable()).toBe(0);
  });

  it('claims for a company or receiver only while its held share has room for what a claim takes of it', () => {
    // A company may hold 4 × 2 = 8 rows and a claim takes 2 × 2 = 4 of it; a receiver 4 × its limit, a claim twice it.
    const limits = new Map<string, number>();
    const q = new FairQueues<Row>({
      companyCap: 2,
      receiverLimit: (r) => limits.get(r) ?? 4,
      heldPerSlot: 4,
      claimPerSlot: 2,
    });
    expect(q.companyClaimMax).toBe(4);
    q.add([row('A', 'a1', 1), row('A', 'a2', 1), row('A', 'a3', 1)]);
    expect(take(q, 10)).toEqual(['a11', 'a21']); // A at its cap, one row waiting: held 3
    expect(q.saturated().companies).not.toContain('A');
    // What a claim may take of A fits whole: nothing is given back.
    const claimed = [1, 2, 3, 4].map((n) => row('A', `b${n}`, 1));
    expect(q.split(claimed).excess).toEqual([]);
    q.add(claimed);
    expect(q.saturated().companies).toContain('A'); // a cap's worth waiting
    // A receiver narrowed from 4 to 1 while 4 of its attempts are in flight has no room (4 > 4 × 1 − 2 × 1).
    const r = new FairQueues<Row>({
      companyCap: 100,
      receiverLimit: (x) => limits.get(x) ?? 4,
      heldPerSlot: 4,
      claimPerSlot: 2,
    });
    r.add([1, 2, 3, 4].map((n) => row('C', 'c', n)));
    expect(take(r, 10)).toHaveLength(4);
    expect(r.saturated().receivers).not.toContain('c'); // 4 held at limit 4: room for a claim of 8
    limits.set('c', 1);
    expect(r.saturated().receivers).toContain('c');
    r.ended(row('C', 'c', 1));
    r.ended(row('C', 'c', 2));
    expect(r.saturated().receivers).not.toContain('c'); // 2 held: room for a claim of 2
  });

  it('gives back the rows of a receiver whose every slot has hung, and claims for it again once one ends', () => {
    let now = 0;
    const limits = new Map([['hung', 1]]);
    const q = new FairQueues<Row>({
      companyCap: 10,
      receiverLimit: (r) => limits.get(r) ?? 4,
      heldPerSlot: 4,
      claimPerSlot: 1,
      now: () => now,
    });
    q.add([1, 2, 3].flatMap((n) => [row('A', 'hung', n), row('B', 'ok', n)]));
    expect(take(q, 10)).toEqual(['hung1', 'ok1', 'ok2', 'ok3']);
    now = 1_999;
    expect(q.takeStalled(2_000)).toEqual([]); // not long enough yet
    q.ended(row('B', 'ok', 1)); // a receiver with free slots is never stalled, however long its attempts take
    now = 5_000;
    const taken = q.takeStalled(2_000);
    expect(taken.map((r) => r.id)).toEqual(['hung2', 'hung3']);
    expect(q.waitingCount).toBe(0);
    expect(q.takeStalled(2_000)).toEqual([]); // taken once
    // Left out of claims, and a claim that raced it keeps none of its rows.
    expect(q.saturated().receivers).toContain('hung');
    expect(q.saturated().receivers).not.toContain('ok');
    expect(q.split([row('A', 'hung', 2), row('B', 'ok', 4)]).excess.map((r) => r.id)).toEqual(['hung2']);
    // Its hung attempt ends: it is claimed for again.
    q.ended(row('A', 'hung', 1));
    expect(q.saturated().receivers).not.toContain('hung');
    expect(q.split([row('A', 'hung', 2)]).kept.map((r) => r.id)).toEqual(['hung2']);
  });
});

const outcome = (o: Partial<AttemptOutcome>): AttemptOutcome => ({
  ok: false,
  statusCode: null,
  durationMs: 1,
  errorKind: null,
  errorMessage: null,
  responseExcerpt: null,
  retryAfterMs: null,
  gone: false,
  ...o,
});
const OK = outcome({ ok: true, statusCode: 200 });
const TIMEOUT = outcome({ errorKind: 'timeout' });

describe('adaptive limits: narrowed on failure, probed at one, widened by successes', () => {
  it('halves on each failure down to one (probing), then widens by one per streak back to open', () => {
    const clock = new ManualClock(1_000_000);
    const changes: ReceiverConcurrency[] = [];
    const l = new AdaptiveLimits(
      8,
      () => clock.now(),
      (_r, s) => changes.push(s),
    );
    l.observe('ep', TIMEOUT);
    expect(l.get('ep')).toMatchObject({ state: 'narrowed', limit: 4, reason: 'timeout', since: 1_000_000 });
    l.observe('ep', outcome({ statusCode: 503, errorKind: 'http_status' }));
    clock.advance(5);
    l.observe('ep', TIMEOUT);
    expect(l.get('ep')).toMatchObject({ state: 'probing', limit: 1, since: 1_000_005 });
    const before = changes.length;
    l.observe('ep', TIMEOUT); // still failing at one: nothing changes, nothing to publish
    expect(changes.length).toBe(before);
    // A 4xx other than 429 says nothing against the receiver's capacity; a refused address neither.
    expect(l.limit('other')).toBe(8);
    l.observe('other', outcome({ statusCode: 400, errorKind: 'http_status' }));
    l.observe('other', outcome({ errorKind: 'ssrf_blocked' }));
    expect(l.get('other').state).toBe('open');

    l.observe('ep', OK);
    expect(l.get('ep')).toMatchObject({ state: 'narrowed', limit: 1 });
    let successes = 1;
    while (l.get('ep').state !== 'open' && successes < 1000) {
      l.observe('ep', OK);
      successes++;
    }
    expect(l.get('ep')).toMatchObject({ state: 'open', limit: 8 });
    expect(successes).toBe(WIDEN_AFTER * (1 + 2 + 3 + 4 + 5 + 6 + 7));
    expect(changes.at(-1)).toMatchObject({ state: 'open', limit: 8 });
    expect(l.narrowedCount).toBe(0);
  });
});

describe('delivery worker: fair across companies, adaptive per receiver (end to end)', () => {
  let t: TestApp;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await t.close();
  });
  const receiver = async (...args: Parameters<typeof startReceiver>) => {
    const r = await startReceiver(...args);
    cleanups.push(() => r.close());
    return r;
  };
  const worker = async (...args: Parameters<typeof testWorker>) => {
    const w = await testWorker(...args);
    cleanups.push(() => w.stop());
    return w;
  };
  async function file(code: string, token: string, n: number) {
    for (let i = 0; i < n; i++) {
      const r = await t.app.http.inject({
        method: 'POST',
        url: '/api/consumer/v1/complaints',
        headers: bearer(token),
        payload: { company_code: code, complaint_category: 'Telecom', title: `T${i}`, description: 'No signal' },
      });
      if (r.statusCode !== 201) throw new Error(r.body);
    }
  }

  it("a company's backlog to hanging receivers holds at most its cap; another company's delivery goes through", async () => {
    const a = await seedTenant(t, { code: 'HANG' });
    const b = await seedTenant(t, { code: 'FINE' });
    const hanging = await receiver({ behaviour: () => 'hang' });
    for (const n of [1, 2, 3]) await addEndpoint(t, a.company.id, `${hanging.url}?${n}`, { timeout_ms: 30_000 });
    const healthy = await receiver();
    await addEndpoint(t, b.company.id, healthy.url);
    // A's backlog is due first: 120 rows ahead of B's.
    await file('HANG', a.consumerToken, 40);
    const w = await worker(t, {
      autoStart: true,
      config: { workerConcurrency: 8, perEndpointConcurrency: 4, companyConcurrency: 3 },
    });
    await hanging.waitFor(3);
    await file('FINE', b.consumerToken, 3);
    await healthy.waitFor(3);
    // A never held more than its cap of 3 slots, however many rows it had due and however long they hang.
    expect(hanging.maxOpen()).toBe(3);
    expect(hanging.requests).toHaveLength(3);
    await hanging.close(); // the hung attempts fail now; stop() waits for them to be recorded
    await w.stop();
  });

  it("one slot: another company's rows are served in turn with a backlog claimed before them", async () => {
    const a = await seedTenant(t, { code: 'BACK' });
    const b = await seedTenant(t, { code: 'LATE' });
    const order: string[] = [];
    const rx = await receiver({
      behaviour: (req) => {
        order.push(req.url.includes('?b') ? 'B' : 'A');
        return { status: 200, body: 'ok' };
      },
    });
    await addEndpoint(t, a.company.id, rx.url + '?a');
    await addEndpoint(t, b.company.id, rx.url + '?b');
    await file('BACK', a.consumerToken, 20);
    await file('LATE', b.consumerToken, 2);
    const w = await worker(t, {
      autoStart: true,
      config: { workerConcurrency: 1, perEndpointConcurrency: 1, companyConcurrency: 1 },
    });
    await rx.waitFor(22);
    await w.stop();
    // In due order B's rows come after all 20 of A's. A claim takes at most 4 of A's (its held share: four times its
    // cap of one), and once A holds rows the next claim leaves A out and reaches B's; then the turns alternate.
    expect(order.indexOf('B')).toBeLessThan(12);
    expect(order.lastIndexOf('B')).toBeLessThan(14);
    expect(order.filter((o) => o === 'A')).toHaveLength(20);
  });

  it('a failing receiver is narrowed to one (probing), shown by the API, and widens back to open once it recovers', async () => {
    const a = await seedTenant(t, { code: 'FLAKY' });
    const other = await seedTenant(t, { code: 'OTHER' });
    let failing = true;
    const rx = await receiver({ behaviour: () => (failing ? { status: 503 } : { status: 200, body: 'ok' }) });
    const ep = await addEndpoint(t, a.company.id, rx.url);
    const concurrency = async (key: string, id = ep.id) =>
      t.app.http.inject({ method: 'GET', url: `/api/v1/webhooks/${id}/concurrency`, headers: bearer(key) });

    const fresh = await concurrency(a.adminKey);
    expect(fresh.statusCode).toBe(200);
    expect(fresh.json().data).toMatchObject({ endpoint_id: ep.id, state: 'open', limit: 4, cap: 4, since: null });

    await file('FLAKY', a.consumerToken, 30);
    const w = await worker(t, { config: { workerConcurrency: 8, perEndpointConcurrency: 4 } });
    expect(await w.worker.drain()).toBe(30);
    expect(rx.maxOpen()).toBeLessThanOrEqual(4);
    expect(w.worker.concurrencyOf(ep.id)).toMatchObject({ state: 'probing', limit: 1, reason: 'http_503' });
    await w.worker.concurrencyPublished();
    const narrowed = (await concurrency(a.adminKey)).json().data;
    expect(narrowed).toMatchObject({ state: 'probing', limit: 1, cap: 4, reason: 'http_503' });
    expect(narrowed.since).toBe(new Date(t.clock.now()).toISOString());

    // Another company cannot read it: a 404 like a missing endpoint; a malformed id is a 404 too.
    expect((await concurrency(other.adminKey)).statusCode).toBe(404);
    expect((await concurrency(a.adminKey, 'ep_nope')).statusCode).toBe(404);

    // Recovered: the retries (one minute later) succeed, one at a time at first, and widen it back to open.
    failing = false;
    const opened = rx.maxOpen();
    t.clock.advance(60_000);
    expect(await w.worker.drain()).toBe(30);
    expect(w.worker.concurrencyOf(ep.id)).toMatchObject({ state: 'open', limit: 4 });
    await w.worker.concurrencyPublished();
    expect((await concurrency(a.adminKey)).json().data).toMatchObject({ state: 'open', limit: 4, cap: 4 });
    expect(opened).toBeLessThanOrEqual(4);
  });
});
