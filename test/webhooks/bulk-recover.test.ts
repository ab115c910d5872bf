import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, DEFAULT_COMPANY_LIMITS, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';
import { snapshot } from '../security/table-snapshot.js';
import { client, fileComplaint, recordAttempt } from './endpoints-helpers.js';
import type { Config } from '../../src/config.js';
import { recoverableDeliveries } from '../../src/webhooks/bulk-recover.js';
import { queryPlan } from '../helpers/query-plan.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';

const HOUR = 3_600_000;

describe('bulk recover with filters, dry run, progress and limits', () => {
  let t: TestApp;
  let rxA: Receiver;
  let rxB: Receiver;
  let w: RunningWorker;
  let volt: Awaited<ReturnType<typeof seedTenant>>;
  let acme: Awaited<ReturnType<typeof seedTenant>>;
  let a: { id: string };
  let b: { id: string };
  let c: { id: string };

  const setup = async (config: Partial<Config> = {}) => {
    t = await createTestApp({ config });
    volt = await seedTenant(t, { code: 'VOLT' });
    acme = await seedTenant(t, { code: 'ACME' });
    rxA = await startReceiver();
    rxB = await startReceiver();
    w = await testWorker(t);
    a = await addEndpoint(t, volt.company.id, rxA.url, { events: ['complaint.created', 'message.new'] });
    b = await addEndpoint(t, volt.company.id, rxB.url, { events: ['complaint.created'] });
    c = await addEndpoint(t, acme.company.id, rxB.url, { events: ['complaint.created'] });
  };
  afterEach(async () => {
    await w.stop();
    await rxA.close();
    await rxB.close();
    await t.close();
  });

  /** Three complaints an hour apart: deliveries to A and B; A's first failed, the rest dead; ACME's dead too. */
  const history = async () => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      times.push(t.clock.now());
      await fileComplaint(t, volt.consumerToken);
      t.clock.advance(HOUR);
    }
    await fileComplaint(t, acme.consumerToken, 'ACME');
    const rows = await t.store.db
      .selectFrom('deliveries')
      .select(['id', 'endpoint_id', 'created_at'])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    let firstA = true;
    for (const d of rows) {
      const status = d.endpoint_id === a.id && firstA ? 'failed' : 'dead';
      if (d.endpoint_id === a.id) firstA = false;
      await recordAttempt(t, d.id, status);
    }
    return times;
  };

  const post = (key: string, body: unknown) => client(t, key).post('/deliveries/recover', body);

  /** Reads the job until its chunks are all written (they run after the answer, in this process). */
  const untilDone = async (job: { id: string; status: string }) => {
    let view: any = job;
    while (view.status === 'running') {
      await new Promise((resolve) => setImmediate(resolve));
      view = (await client(t, volt.adminKey).get(`/deliveries/recover/${job.id}`)).body.data;
    }
    return view;
  };

  describe('with room', () => {
    beforeEach(async () => setup({ companyLimits: { ...DEFAULT_COMPANY_LIMITS, resendsPerMin: 2 } }));

    it('dry runs count and sample by every filter and change nothing', async () => {
      const times = await history();
      const before = await snapshot(t.store.db);
      const dry = (body: object) => post(volt.adminKey, { dry_run: true, ...body });

      const all = await dry({});
      expect(all.status).toBe(200);
      expect(all.body.data).toMatchObject({ dry_run: true, count: 6, limit: 10_000 });
      expect(all.body.data.sample).toHaveLength(6);
      expect(all.body.data.sample.every((s: { endpoint_id: string }) => s.endpoint_id !== c.id)).toBe(true);

      expect((await dry({ endpoint_ids: [a.id] })).body.data.count).toBe(3);
      expect((await dry({ endpoint_ids: [a.id], statuses: ['failed'] })).body.data.count).toBe(1);
      expect((await dry({ statuses: ['dead'] })).body.data.count).toBe(5);
      expect((await dry({ events: ['message.new'] })).body.data.count).toBe(0);
      expect((await dry({ events: ['complaint.created'] })).body.data.count).toBe(6);
      const since = new Date(times[1]).toISOString();
      const until = new Date(times[2]).toISOString();
      expect((await dry({ since })).body.data.count).toBe(4);
      const window = await dry({ since, until });
      expect(window.body.data.count).toBe(2);
      expect(new Set(window.body.data.sample.map((s: { created_at: string }) => s.created_at))).toEqual(
        new Set([since]),
      );

      // Another company's endpoint is a 404; bad input a 400. Nothing was written by any of these.
      const foreign = await dry({ endpoint_ids: [c.id] });
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe('not_found');
      expect((await dry({ statuses: ['success'] })).status).toBe(400);
      expect((await dry({ since: until, until: since })).status).toBe(400);
      expect(await snapshot(t.store.db)).toEqual(before);
    });

    it("finds the failed and dead deliveries through their own index, not by reading the company's every delivery", async () => {
      for (const statuses of [['failed', 'dead'], ['dead']] as const) {
        const query = recoverableDeliveries(t.app.ctx, volt.company.id, { statuses: [...statuses] }, t.clock.now())
          .select('d.id')
          .compile();
        const plan = await queryPlan(t.store, query);
        // On PostgreSQL the index is the queue partition's own (migration 0061), under the same name.
        expect(
          plan.some((l) => l.includes('deliveries_recoverable')),
          `${statuses.join()}: ${plan.join('\n')}`,
        ).toBe(true);
      }
    });

    it('requeues the matching deliveries as a job whose progress GET shows; the receivers get them', async () => {
      await history();
      const res = await post(volt.adminKey, { endpoint_ids: [a.id] });
      expect(res.status).toBe(202);
      const job = res.body.data;
      expect(job).toMatchObject({ status: 'running', total: 3, done: 0 });
      expect(job.id).toMatch(/^rcv_/);
      const view = await untilDone(job);
      expect(view).toMatchObject({ status: 'done', total: 3, done: 3, skipped: 0 });
      expect(view.filter).toMatchObject({ endpoint_ids: [a.id], statuses: ['failed', 'dead'] });
      expect(await w.worker.drain()).toBe(3);
      expect(rxA.requests).toHaveLength(3);
      expect(rxB.requests).toHaveLength(0);
      // Another company cannot see the job.
      expect((await client(t, acme.adminKey).get(`/deliveries/recover/${job.id}`)).status).toBe(404);
    });

    it('refuses a second running job (409) and over the shared per-minute rate (429)', async () => {
      await history();
      await t.store.db
        .insertInto('recover_jobs')
        .values({
          id: 'rcv_00000000000000000001',
          company_id: volt.company.id,
          filter: JSON.stringify({ statuses: ['failed', 'dead'] }),
          status: 'running',
          total: 10,
          done: 1,
          skipped: 0,
          created_at: t.clock.now(),
          updated_at: t.clock.now(),
        })
        .execute();
      const busy = await post(volt.adminKey, {});
      expect(busy.status).toBe(409);
      expect(busy.body.error).toMatchObject({
        code: 'recover_in_progress',
        details: { job_id: 'rcv_00000000000000000001' },
      });
      // A job whose process stopped long ago no longer holds the company's turn.
      t.clock.advance(10 * 60_000);
      expect(
        (await client(t, volt.adminKey).get('/deliveries/recover/rcv_00000000000000000001')).body.data.status,
      ).toBe('interrupted');
      const ok = await post(volt.adminKey, { statuses: ['failed'] });
      expect(ok.status).toBe(202);
      expect(await untilDone(ok.body.data)).toMatchObject({ status: 'done', done: 1 });
      await w.worker.drain();
      // Nothing matches any more (the failed one was sent): a job of none is done at once.
      const none = await post(volt.adminKey, { statuses: ['failed'] });
      expect(none.status).toBe(202);
      expect(none.body.data).toMatchObject({ status: 'done', total: 0, done: 0 });
      const limited = await post(volt.adminKey, { statuses: ['failed'] });
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('resend_rate_limited');
      expect(limited.headers['retry-after']).toBeDefined();
      // A dry run is a read: never rate limited.
      expect((await post(volt.adminKey, { dry_run: true })).status).toBe(200);
    });
  });

  describe('bounded per company', () => {
    beforeEach(async () => setup({ companyLimits: { ...DEFAULT_COMPANY_LIMITS, recoverDeliveries: 2 } }));

    it('refuses a recover of more deliveries than the limit with 409 recover_too_large, changing nothing', async () => {
      await history();
      const dry = await post(volt.adminKey, { dry_run: true });
      expect(dry.body.data).toMatchObject({ count: 6, limit: 2 });
      const before = await snapshot(t.store.db);
      const res = await post(volt.adminKey, {});
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'recover_too_large', details: { limit: 2 } });
      expect(await snapshot(t.store.db)).toEqual(before);
      expect(
        (await post(volt.adminKey, { endpoint_ids: [b.id], statuses: ['dead'], dry_run: true })).body.data.count,
      ).toBe(3);
      expect((await post(volt.adminKey, { endpoint_ids: [a.id], statuses: ['dead'] })).status).toBe(202);
    });
  });
});
