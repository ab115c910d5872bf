import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { companiesWaiting, ShieldProcessor } from '../../src/shield/processor.js';
import { queryPlan } from '../helpers/query-plan.js';
import { ScoringPool } from '../../src/shield/scoring-pool.js';
import type { ScoredRecord, ScoringTask } from '../../src/shield/scoring/batch.js';
import { postFeedback, record } from './shield-helpers.js';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A real one-thread pool that reports each task and can hold its result back until the test releases it. */
class ObservedPool extends ScoringPool {
  readonly tasks: ScoringTask[] = [];
  started = deferred();
  gate: Promise<void> | null = null;
  /** Records of each company (by content prefix) being scored now, and the most there ever were. */
  readonly running = new Map<string, number>();
  readonly peak = new Map<string, number>();
  failNext = false;

  constructor() {
    super(1);
  }

  override async score(task: ScoringTask): Promise<ScoredRecord[]> {
    this.tasks.push(task);
    const company = task.records[0].content.slice(0, 1);
    const now = (this.running.get(company) ?? 0) + task.records.length;
    this.running.set(company, now);
    this.peak.set(company, Math.max(this.peak.get(company) ?? 0, now));
    try {
      if (this.failNext) {
        this.failNext = false;
        throw new Error('the scoring thread died');
      }
      // The thread starts on the task at once; only its answer waits for the gate.
      const scoring = super.score(task);
      this.started.resolve();
      if (this.gate) await this.gate;
      return await scoring;
    } finally {
      this.running.set(company, (this.running.get(company) ?? 0) - task.records.length);
    }
  }
}

const LONG = 'The parcel arrived broken and support keeps ignoring me. '.repeat(350).slice(0, 20_000);

describe('Shield scoring in worker threads', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof seedTenant>>;
  let b: Awaited<ReturnType<typeof seedTenant>>;
  let pool: ObservedPool;
  beforeAll(() => {
    pool = new ObservedPool();
  });
  afterAll(async () => pool.close());
  beforeEach(async () => {
    t = await createTestApp();
    a = await seedTenant(t, { code: 'ACME' });
    b = await seedTenant(t, { code: 'BOLT' });
    pool.tasks.length = 0;
    pool.peak.clear();
    pool.gate = null;
    pool.started = deferred();
  });
  afterEach(async () => t.close());

  const unscored = async () =>
    (await t.store.db.selectFrom('feedback_records').select('record_id').where('scored_at', 'is', null).execute()).map(
      (r) => r.record_id,
    );

  it("answers another company's requests while a large batch is being scored", async () => {
    const records = Array.from({ length: 40 }, (_, i) => record(`big-${i}`, `A ${LONG}`));
    expect((await postFeedback(t, a.adminKey, { records })).statusCode).toBe(202);
    const release = deferred();
    pool.gate = release.promise;
    const processor = new ShieldProcessor(t.app.ctx, { pool });
    const pass = processor.tick();
    await pool.started.promise;

    // A batch is in a thread and the pass has not finished: the event loop still answers.
    const list = await t.app.http.inject({ method: 'GET', url: '/api/v1/complaints', headers: bearer(b.readKey) });
    expect(list.statusCode).toBe(200);
    expect((await t.app.http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect(await unscored()).toHaveLength(40);

    release.resolve();
    expect(await pass).toEqual({ scored: 40, alerts: 0 });
    expect(await unscored()).toEqual([]);
    const scored = await t.store.db.selectFrom('feedback_records').select(['escalation_level', 'cues']).execute();
    expect(scored.every((r) => r.escalation_level !== null && !r.cues!.includes('scoring_failed'))).toBe(true);
  });

  it("serves a small company's records among the first tasks while another's flood waits its turn", async () => {
    const flood = Array.from({ length: 200 }, (_, i) => record(`flood-${i}`, `A${i} The order is late.`));
    expect((await postFeedback(t, a.adminKey, { records: flood })).statusCode).toBe(202);
    t.clock.advance(1000);
    const few = Array.from({ length: 3 }, (_, i) => record(`few-${i}`, `B${i} I want a refund now.`));
    expect((await postFeedback(t, b.adminKey, { records: few })).statusCode).toBe(202);

    const processor = new ShieldProcessor(t.app.ctx, { pool, batchSize: 25, companyInFlight: 30 });
    expect((await processor.tick()).scored).toBe(203);
    // One thread, two tasks in flight: the flood's first batch, then the other company's, though it arrived later.
    expect(pool.tasks.slice(0, 2).map((task) => [task.records[0].content[0], task.records.length])).toEqual([
      ['A', 25],
      ['B', 3],
    ]);
    // The flood never had more than its quota being scored at once, and its records went in arrival order.
    expect(pool.peak.get('A')).toBeLessThanOrEqual(30);
    const order = pool.tasks.flatMap((task) => task.records.map((r) => r.content)).filter((c) => c[0] === 'A');
    expect(order.map((c) => Number(c.slice(1, c.indexOf(' '))))).toEqual(flood.map((_, i) => i));
  });

  it("skips records another processor holds, and a thread's later records, until the lease ends", async () => {
    const calm = 'Thank you so much, this is wonderful and works perfectly!';
    await postFeedback(t, a.adminKey, { records: [record('t1', calm, { thread_id: 'th' }), record('solo', calm)] });
    // Another processor claimed t1 and has not finished (or crashed).
    await t.store.db
      .updateTable('feedback_records')
      .set({ score_lease_until: t.clock.now() + 60_000 })
      .where('record_id', '=', 't1')
      .execute();
    t.clock.advance(1000);
    await postFeedback(t, a.adminKey, {
      records: [record('t2', 'This is terrible. Still broken, I am furious and disgusted.', { thread_id: 'th' })],
    });
    const processor = new ShieldProcessor(t.app.ctx, { pool });
    expect((await processor.tick()).scored).toBe(1);
    expect((await unscored()).sort()).toEqual(['t1', 't2']);

    t.clock.advance(60_000);
    expect((await processor.tick()).scored).toBe(2);
    const t2 = await t.store.db
      .selectFrom('feedback_records')
      .select('sentiment_shift')
      .where('record_id', '=', 't2')
      .executeTakeFirstOrThrow();
    expect(t2.sentiment_shift).toBe('sentiment degraded');
  });

  it('stops after the batches in flight when stopped during a backlog, leaving the rest for the next start', async () => {
    const backlog = Array.from({ length: 100 }, (_, i) => record(`b-${i}`, `A${i} The order is late.`));
    expect((await postFeedback(t, a.adminKey, { records: backlog })).statusCode).toBe(202);
    const release = deferred();
    pool.gate = release.promise;
    const processor = new ShieldProcessor(t.app.ctx, { pool, batchSize: 10 });
    processor.start();
    await pool.started.promise;

    const stopped = processor.stop();
    release.resolve();
    await stopped;
    // One thread, two batches in flight when the stop came: those are stored, nothing more was claimed.
    expect(pool.tasks.map((task) => task.records.length)).toEqual([10, 10]);
    expect(await unscored()).toHaveLength(80);
    const leased = await t.store.db
      .selectFrom('feedback_records')
      .select('record_id')
      .where('scored_at', 'is', null)
      .where('score_lease_until', 'is not', null)
      .execute();
    expect(leased).toEqual([]);

    const next = new ShieldProcessor(t.app.ctx, { pool, batchSize: 10 });
    expect((await next.tick()).scored).toBe(80);
    expect(await unscored()).toEqual([]);
  });

  it("finds the companies waiting from the index alone, never reading the records' text", async () => {
    const query = companiesWaiting(t.store.db, t.clock.now()).compile();
    const plan = (await queryPlan(t.store, query)).join('\n');
    // SQLite says when a read needs the index alone; PostgreSQL's plan depends on the pages' visibility.
    expect(plan).toContain(
      t.store.profile.name === 'sqlite' ? 'COVERING INDEX feedback_unscored_company' : 'feedback_unscored_company',
    );
  });

  it('gives a failed batch back at once, and scores it on the next pass', async () => {
    await postFeedback(t, a.adminKey, { records: [record('r1', 'A fine day.'), record('r2', 'A fine day too.')] });
    pool.failNext = true;
    const processor = new ShieldProcessor(t.app.ctx, { pool });
    expect(await processor.tick()).toEqual({ scored: 0, alerts: 0 });
    const leased = await t.store.db.selectFrom('feedback_records').select('score_lease_until').execute();
    expect(leased).toEqual([{ score_lease_until: null }, { score_lease_until: null }]);
    expect((await processor.tick()).scored).toBe(2);
    expect(await unscored()).toEqual([]);
  });
});
