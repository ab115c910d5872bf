import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { ManualClock } from '../../src/clock.js';
import { DeliveryWorker } from '../../src/webhooks/worker.js';
import { claim } from '../../src/queue/claim.js';
import { deliveryTargets } from '../../src/runtime/delivery-targets.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';

async function fileComplaints(t: TestApp, token: string, n: number) {
  for (let i = 0; i < n; i++) {
    const r = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(token),
      payload: { company_code: 'VOLT', complaint_category: 'Telecom', title: `T${i}`, description: 'No signal' },
    });
    if (r.statusCode !== 201) throw new Error(r.body);
  }
}

const attemptsOf = (t: TestApp) =>
  t.store.db
    .selectFrom('attempts')
    .select(['n', 'status_code', 'error_kind', 'error_message'])
    .orderBy('started_at')
    .execute();

describe('delivery worker: failures, isolation, SSRF, leases', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    tenant = await seedTenant(t);
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

  it('timeouts, resets, redirects, refused connections and TLS failures are failed attempts with their kind', async () => {
    const hang = await receiver({ behaviour: () => 'hang' });
    const reset = await receiver({ behaviour: () => 'reset' });
    const redirect = await receiver({
      behaviour: () => ({ status: 302, headers: { location: 'https://example.test/' } }),
    });
    const closed = await receiver();
    const closedUrl = closed.url;
    await closed.close();
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    });
    const tls = await receiver({ tls: { key: pems.private, cert: pems.cert } });
    await addEndpoint(t, tenant.company.id, hang.url, { timeout_ms: 1000 });
    await addEndpoint(t, tenant.company.id, reset.url);
    await addEndpoint(t, tenant.company.id, redirect.url);
    await addEndpoint(t, tenant.company.id, closedUrl);
    await addEndpoint(t, tenant.company.id, tls.url.replace('127.0.0.1', 'localhost'));
    const w = await worker(t);
    await fileComplaints(t, tenant.consumerToken, 1);
    expect(await w.worker.drain()).toBe(5);
    const kinds = (await attemptsOf(t)).map((a) => a.error_kind).sort();
    expect(kinds).toEqual(['connection_refused', 'connection_reset', 'redirect', 'timeout', 'tls'].sort());
    expect(redirect.requests).toHaveLength(1);
    const statuses = await t.store.db.selectFrom('deliveries').select('status').execute();
    expect(statuses.every((d) => d.status === 'failed')).toBe(true);
  });

  it('https with a trusted certificate succeeds', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    });
    const tls = await receiver({ tls: { key: pems.private, cert: pems.cert } });
    await addEndpoint(t, tenant.company.id, tls.url.replace('127.0.0.1', 'localhost'));
    const w = await worker(t, { tls: { ca: pems.cert } });
    await fileComplaints(t, tenant.consumerToken, 1);
    await w.worker.drain();
    expect(tls.requests).toHaveLength(1);
    expect((await attemptsOf(t))[0].status_code).toBe(200);
  });

  it('a hanging endpoint holds at most its cap of slots while a healthy one gets everything', async () => {
    const slow = await receiver({ behaviour: () => 'hang' });
    const healthy = await receiver();
    await addEndpoint(t, tenant.company.id, slow.url, { timeout_ms: 30_000 });
    await addEndpoint(t, tenant.company.id, healthy.url);
    const w = await worker(t, { autoStart: true, config: { workerConcurrency: 8, perEndpointConcurrency: 2 } });
    await fileComplaints(t, tenant.consumerToken, 40);
    await healthy.waitFor(40);
    expect(slow.maxOpen()).toBeLessThanOrEqual(2);
    expect(healthy.requests).toHaveLength(40);
    await slow.close(); // the hung attempts fail now; stop() waits for them to be recorded
    await w.stop();
  });

  it('the loop delivers a new event without being asked (commit wakes it)', async () => {
    const rx = await receiver();
    await addEndpoint(t, tenant.company.id, rx.url);
    await worker(t, { autoStart: true });
    await fileComplaints(t, tenant.consumerToken, 3);
    const got = await rx.waitFor(3);
    expect(got).toHaveLength(3);
  });

  it('SSRF: without the allow-list, loopback targets are refused and recorded; no request arrives', async () => {
    const rx = await receiver();
    const urls = [
      rx.url,
      rx.url.replace('127.0.0.1', 'localhost'),
      rx.url.replace('127.0.0.1', '[::ffff:127.0.0.1]'),
      rx.url.replace('127.0.0.1', '2130706433'),
    ];
    for (const url of urls) await addEndpoint(t, tenant.company.id, url);
    const w = await worker(t, { config: { webhookAllowCidrs: [] } });
    await fileComplaints(t, tenant.consumerToken, 1);
    expect(await w.worker.drain()).toBe(urls.length);
    const attempts = await attemptsOf(t);
    expect(attempts.map((a) => a.error_kind)).toEqual(Array(urls.length).fill('ssrf_blocked'));
    expect(rx.requests).toHaveLength(0);
  });

  it('SSRF: DNS that changes after saving is checked at connect time', async () => {
    const rx = await receiver();
    await addEndpoint(t, tenant.company.id, rx.url.replace('127.0.0.1', 'hooks.example.test'));
    // The name resolves to loopback only when the worker connects.
    const w = await worker(t, {
      config: { webhookAllowCidrs: [] },
      lookup: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    await fileComplaints(t, tenant.consumerToken, 1);
    await w.worker.drain();
    expect((await attemptsOf(t))[0].error_kind).toBe('ssrf_blocked');
    expect(rx.requests).toHaveLength(0);
  });

  it("a crashed worker's claims come back when its lease runs out, and are delivered", async () => {
    const rx = await receiver();
    await addEndpoint(t, tenant.company.id, rx.url);
    await fileComplaints(t, tenant.consumerToken, 5);
    // A worker claims the rows and dies before sending anything.
    const dead = await claim(t.store, {
      now: t.clock.now(),
      limit: 10,
      leaseMs: 60_000,
      owner: 'crashed',
      excludeReceivers: [],
    });
    expect(dead.deliveries).toHaveLength(5);
    const w = await worker(t);
    expect(await w.worker.drain()).toBe(0); // leases still live
    t.clock.advance(60_001);
    expect(await w.worker.drain()).toBe(5);
    expect(rx.requests).toHaveLength(5);
  });

  it('two workers on one store never attempt the same delivery twice', async () => {
    const rx = await receiver();
    await addEndpoint(t, tenant.company.id, rx.url);
    await addEndpoint(t, tenant.company.id, rx.url + '?b');
    await fileComplaints(t, tenant.consumerToken, 60);
    const a = await worker(t, { config: { workerConcurrency: 8, perEndpointConcurrency: 8 } });
    // A second "process": on PostgreSQL its own pool on the same database. SQLite has one writer connection per
    // process by design (two in one event loop would block each other), so there the workers share the handle.
    const otherStore = t.store.profile.name === 'postgres' ? t.testStore.reopen() : t.store;
    const b = new DeliveryWorker({
      ctx: { ...t.app.ctx, store: otherStore },
      targets: deliveryTargets(),
      dispatcher: (a.worker as unknown as { opts: { dispatcher: never } }).opts.dispatcher,
      concurrency: 8,
      perReceiver: 8,
      leaseMs: t.config.leaseMs,
    });
    const [na, nb] = await Promise.all([a.worker.drain(), b.drain()]);
    expect(na + nb).toBe(120);
    expect(rx.requests).toHaveLength(120);
    expect(new Set(rx.requests.map((r) => r.headers['idempotency-key'])).size).toBe(120);
    const counts = await t.store.db.selectFrom('deliveries').select(['attempt_count', 'status']).execute();
    expect(counts.every((d) => d.attempt_count === 1 && d.status === 'success')).toBe(true);
    // Sibling deliveries settled by different workers at the same time: the events' status must still add up.
    const events = await t.store.db
      .selectFrom('events')
      .select('delivery_status')
      .where('name', '=', 'complaint.created')
      .execute();
    expect(events.map((e) => e.delivery_status)).toEqual(Array(60).fill('success'));
  });

  it('rows claimed ahead of a free slot are given back when the worker stops, and only sent rows have attempts', async () => {
    const hang = await receiver({ behaviour: () => 'hang' });
    await addEndpoint(t, tenant.company.id, hang.url, { timeout_ms: 30_000 });
    const w = await worker(t, { autoStart: true, config: { workerConcurrency: 2, perEndpointConcurrency: 2 } });
    await fileComplaints(t, tenant.consumerToken, 10);
    await hang.waitFor(2);
    const leased = await t.store.db
      .selectFrom('deliveries')
      .select('id')
      .where('lease_owner', '=', w.worker.owner)
      .execute();
    expect(leased.length).toBeGreaterThan(2); // the buffer holds rows beyond the two in flight
    const stopping = w.stop(); // stops claiming and gives the waiting rows back at once
    await hang.close(); // the two hung attempts fail now, and nothing else starts
    await stopping;
    const rows = await t.store.db.selectFrom('deliveries').select(['status', 'lease_owner', 'attempt_count']).execute();
    expect(rows.filter((r) => r.lease_owner !== null)).toEqual([]);
    expect(rows.filter((r) => r.attempt_count === 1)).toHaveLength(2);
    expect(rows.filter((r) => r.attempt_count === 0 && r.status === 'pending')).toHaveLength(8);
    expect(await attemptsOf(t)).toHaveLength(2);
  });

  it("attempts hanging past a moment stop holding the worker's slots: a healthy receiver is served while another hangs", async () => {
    const hang = await receiver({ behaviour: () => 'hang' });
    const healthy = await receiver();
    await addEndpoint(t, tenant.company.id, hang.url, { timeout_ms: 30_000 });
    await addEndpoint(t, tenant.company.id, healthy.url);
    // Two slots in all, and the hanging receiver may take both: without the allowance for slow attempts the healthy
    // one would wait for the 30 s timeout.
    const w = await worker(t, { autoStart: true, config: { workerConcurrency: 2, perEndpointConcurrency: 2 } });
    await fileComplaints(t, tenant.consumerToken, 10);
    await healthy.waitFor(10);
    expect(hang.maxOpen()).toBeLessThanOrEqual(2); // the per-receiver cap still holds
    const stopping = w.stop();
    await hang.close();
    await stopping;
  });
});
