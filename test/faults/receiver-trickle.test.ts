import net, { type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { sendWebhook } from '../../src/webhooks/http-sender.js';
import { createGuardedDispatcher, SsrfGuard } from '../../src/webhooks/ssrf-guard.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';

/**
 * Receivers that keep a connection alive by trickling: one byte at a time, each within any per-read idle timer,
 * so only a budget for the whole attempt ends them. The other receiver faults (hangs, resets, huge bodies, TLS,
 * redirects, 429, 410) are in test/webhooks/http-sender.test.ts and worker-*.test.ts.
 */

type Trickle = 'body' | 'headers';

/** A raw TCP receiver on loopback that answers byte by byte, every `everyMs`, forever. */
async function startTrickler(kind: Trickle, everyMs: number) {
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let markClosed = () => {};
  const firstClosed = new Promise<void>((resolve) => (markClosed = resolve));
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => markClosed());
    socket.on('error', () => undefined);
    socket.once('data', () => {
      const head =
        kind === 'body' ? 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n' : '';
      const drip = kind === 'body' ? 'ok ' : 'HTTP/1.1 200 OK\r\nX-Slow: ' + 'a'.repeat(100_000);
      socket.write(head);
      let i = 0;
      const timer = setInterval(() => {
        if (socket.destroyed) return clearInterval(timer);
        socket.write(drip[i++ % drip.length]);
      }, everyMs);
      timers.add(timer);
      socket.on('close', () => clearInterval(timer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    connections: () => connections,
    /** Resolves when the first connection is closed (by the sender giving up on it). */
    firstClosed,
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('receivers that trickle slower than the timeout', () => {
  const dispatcher = createGuardedDispatcher(new SsrfGuard(['127.0.0.0/8']));
  const tricklers: Array<Awaited<ReturnType<typeof startTrickler>>> = [];
  afterAll(async () => {
    await dispatcher.close();
    for (const r of tricklers) await r.close();
  });

  it.each<[Trickle, string]>([
    ['body', 'a 200 whose body arrives a byte every 20 ms'],
    ['headers', 'a status line and headers that arrive a byte every 20 ms'],
  ])('%s: %s fails as a timeout within the attempt budget, and the connection is dropped', async (kind) => {
    const rx = await startTrickler(kind, 20);
    tricklers.push(rx);
    const outcome = await sendWebhook({
      url: rx.url,
      headers: { 'content-type': 'application/json' },
      body: '{}',
      timeoutMs: 400,
      dispatcher,
    });
    expect(outcome).toMatchObject({ ok: false, errorKind: 'timeout', responseExcerpt: null });
    expect(outcome.errorMessage).toBe('no complete response within 400 ms');
    // The budget is for the whole attempt: not reset by each byte (a per-read timer would never fire here).
    expect(outcome.durationMs).toBeGreaterThanOrEqual(350);
    expect(outcome.durationMs).toBeLessThan(3000);
    expect(rx.connections()).toBe(1);
    // The sender gives the connection up rather than leaving it open to trickle on.
    await rx.firstClosed;
  });
});

describe('the worker against a trickling endpoint', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  let healthy: Receiver;
  let trickler: Awaited<ReturnType<typeof startTrickler>>;
  let worker: RunningWorker;
  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    tenant = await seedTenant(t);
    healthy = await startReceiver();
    trickler = await startTrickler('body', 50);
  });
  afterEach(async () => {
    await worker.stop();
    await healthy.close();
    await trickler.close();
    await t.close();
  });

  it('records a timeout and schedules a retry, while the healthy endpoint gets its delivery', async () => {
    await addEndpoint(t, tenant.company.id, trickler.url, { timeout_ms: 1000 });
    await addEndpoint(t, tenant.company.id, healthy.url);
    worker = await testWorker(t);
    const filed = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(tenant.consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'Telecom', title: 'x', description: 'y' },
    });
    expect(filed.statusCode).toBe(201);
    expect(await worker.worker.drain()).toBe(2);
    expect(healthy.requests).toHaveLength(1);
    const rows = await t.store.db
      .selectFrom('attempts')
      .innerJoin('deliveries', 'deliveries.id', 'attempts.delivery_id')
      .innerJoin('endpoints', 'endpoints.id', 'deliveries.endpoint_id')
      .select([
        'endpoints.url',
        'attempts.error_kind',
        'attempts.duration_ms',
        'deliveries.status',
        'deliveries.next_attempt_at',
      ])
      .execute();
    const slow = rows.find((r) => r.url === trickler.url)!;
    expect(slow).toMatchObject({
      error_kind: 'timeout',
      status: 'failed',
      next_attempt_at: t.clock.now() + t.config.retryScheduleMs[0],
    });
    expect(slow.duration_ms).toBeLessThan(5000);
    expect(rows.find((r) => r.url === healthy.url)).toMatchObject({ error_kind: null, status: 'success' });
  });
});
