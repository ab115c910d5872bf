import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { testWorker } from '../helpers/webhooks.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';

const S = 1000;

describe("an endpoint's own retry schedule", () => {
  let t: TestApp;
  let rx: Receiver;
  let w: RunningWorker;
  let volt: Awaited<ReturnType<typeof seedTenant>>;
  let acme: Awaited<ReturnType<typeof seedTenant>>;

  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(Date.parse('2026-06-01T09:00:00Z')) });
    volt = await seedTenant(t, { code: 'VOLT' });
    acme = await seedTenant(t, { code: 'ACME' });
    rx = await startReceiver({ behaviour: () => ({ status: 503, body: 'down' }) });
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await rx.close();
    await t.close();
  });

  const api = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, key = volt.adminKey) =>
    t.app.http.inject({ method, url: `/api/v1${url}`, headers: bearer(key), ...(payload ? { payload } : {}) });

  const delivery = () => t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();

  async function fileComplaint(): Promise<void> {
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(volt.consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'Banking', title: 'Card', description: 'Blocked' },
    });
    expect(res.statusCode).toBe(201);
  }

  it('retries on its own delays, then the delivery is dead; the server schedule is untouched for others', async () => {
    const created = await api('POST', '/webhooks', {
      url: rx.url,
      events: ['complaint.created'],
      retry_schedule: [10, 30],
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().data.retry_schedule).toEqual([10, 30]);
    await fileComplaint();

    expect(await w.worker.drain()).toBe(1);
    expect((await delivery()).next_attempt_at).toBe(t.clock.now() + 10 * S);
    t.clock.advance(10 * S - 1);
    expect(await w.worker.drain()).toBe(0); // one millisecond early: not due
    t.clock.advance(1);
    expect(await w.worker.drain()).toBe(1);
    expect((await delivery()).next_attempt_at).toBe(t.clock.now() + 30 * S);
    t.clock.advance(30 * S);
    expect(await w.worker.drain()).toBe(1);
    const dead = await delivery();
    expect([dead.status, dead.attempt_count, dead.next_attempt_at]).toEqual(['dead', 3, null]);
    expect(rx.requests).toHaveLength(3);

    // Back to the server's schedule (1 min first) with null; the next delivery follows it.
    const reset = await api('PATCH', `/webhooks/${created.json().data.id}`, { retry_schedule: null });
    expect(reset.json().data.retry_schedule).toBeNull();
    await t.store.db.deleteFrom('attempts').execute();
    await t.store.db.deleteFrom('deliveries').execute();
    await fileComplaint();
    expect(await w.worker.drain()).toBe(1);
    expect((await delivery()).next_attempt_at).toBe(t.clock.now() + 60 * S);
  });

  it('an edit applies from the next attempt of deliveries already failing', async () => {
    const ep = (await api('POST', '/webhooks', { url: rx.url, events: ['complaint.created'] })).json().data;
    expect(ep.retry_schedule).toBeNull();
    await fileComplaint();
    expect(await w.worker.drain()).toBe(1);
    expect((await delivery()).next_attempt_at).toBe(t.clock.now() + 60 * S);
    await api('PATCH', `/webhooks/${ep.id}`, { retry_schedule: [5, 5, 7] });
    t.clock.advance(60 * S);
    expect(await w.worker.drain()).toBe(1); // second attempt: the new schedule's second delay follows
    expect((await delivery()).next_attempt_at).toBe(t.clock.now() + 5 * S);
  });

  it('refuses a bad schedule with a code, changing nothing', async () => {
    const ep = (await api('POST', '/webhooks', { url: rx.url, events: ['*'], retry_schedule: [60] })).json().data;
    const bad: Array<[unknown, string]> = [
      [[], 'validation_failed'],
      [[0], 'validation_failed'],
      [[-5], 'validation_failed'],
      [[1.5], 'validation_failed'],
      [['60'], 'validation_failed'],
      [[86_401], 'validation_failed'],
      [Array.from({ length: 21 }, () => 60), 'validation_failed'],
      [Array.from({ length: 8 }, () => 86_400), 'invalid_retry_schedule'], // more than 7 days in all
      ['1m,5m', 'validation_failed'],
    ];
    for (const [schedule, code] of bad) {
      const patched = await api('PATCH', `/webhooks/${ep.id}`, { retry_schedule: schedule });
      expect([patched.statusCode, patched.json().error.code], JSON.stringify(schedule)).toEqual([400, code]);
      const created = await api('POST', '/webhooks', { url: rx.url, events: ['*'], retry_schedule: schedule });
      expect([created.statusCode, created.json().error.code], JSON.stringify(schedule)).toEqual([400, code]);
    }
    expect((await api('GET', `/webhooks/${ep.id}`)).json().data.retry_schedule).toEqual([60]);
    expect((await api('GET', '/webhooks')).json().data).toHaveLength(1);
  });

  it("another company cannot change an endpoint's schedule", async () => {
    const ep = (await api('POST', '/webhooks', { url: rx.url, events: ['*'] })).json().data;
    const res = await api('PATCH', `/webhooks/${ep.id}`, { retry_schedule: [1] }, acme.adminKey);
    expect(res.statusCode).toBe(404);
    expect((await api('GET', `/webhooks/${ep.id}`)).json().data.retry_schedule).toBeNull();
  });
});
