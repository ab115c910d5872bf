import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { FairQueues } from '../../src/webhooks/worker/fair-queues.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';

const row = (receiver: string, n: number) => ({ company: 'co', receiver, id: `${receiver}${n}` });
const queues = (cap: number, heldPerSlot: number) =>
  new FairQueues<ReturnType<typeof row>>({ companyCap: 1000, receiverLimit: () => cap, heldPerSlot, claimPerSlot: 1 });

describe("fair queues: one company's receivers, limits and turns", () => {
  it('serves receivers in turn one row at a time, at most `cap` in flight each, the receiver served to the back', () => {
    const q = queues(2, 4);
    q.add([row('a', 1), row('a', 2), row('a', 3), row('b', 1), row('c', 1)]);
    expect(q.waitingCount).toBe(5);
    const started: string[] = [];
    const take = (slots: number) =>
      q.takeInTurn(
        () => started.length < slots,
        (item) => {
          started.push(item.id);
          q.began(item);
          return true;
        },
      );
    expect(take(3)).toBe(3);
    expect(started).toEqual(['a1', 'b1', 'c1']);
    expect(q.startable()).toBe(1); // a2; a3 then waits for one of a's attempts to end (cap 2)
    expect(take(10)).toBe(1);
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2']);
    q.ended(row('a', 1));
    expect(take(10)).toBe(1);
    expect(started.at(-1)).toBe('a3');
    expect(q.waitingCount).toBe(0);
  });

  it('gives back what a receiver holds beyond its share, and leaves full receivers out of the next claim', () => {
    const q = queues(1, 2);
    const { kept, excess } = q.split([row('a', 1), row('a', 2), row('a', 3), row('b', 1)]);
    expect(kept.map((r) => r.id)).toEqual(['a1', 'a2', 'b1']);
    expect(excess.map((r) => r.id)).toEqual(['a3']);
    q.add(kept);
    expect(q.saturated().receivers.sort()).toEqual(['a', 'b']); // a cap's worth (1) waiting each
    const skipped: string[] = [];
    q.takeInTurn(
      () => true,
      (item) => {
        skipped.push(item.id);
        return false; // given up on (a stale lease): not counted as sending
      },
    );
    expect(skipped).toEqual(['a1', 'b1', 'a2']);
    expect(q.anySending).toBe(false);
    expect(q.saturated()).toEqual({ receivers: [], companies: [] });
    expect(q.takeAll()).toEqual([]);
  });
});

describe('delivery worker: named states', () => {
  let t: TestApp;
  let rx: Receiver;
  let w: RunningWorker;
  let token: string;
  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    const tenant = await seedTenant(t);
    token = tenant.consumerToken;
    rx = await startReceiver();
    await addEndpoint(t, tenant.company.id, rx.url);
  });
  afterEach(async () => {
    await w.stop();
    await rx.close();
    await t.close();
  });
  const file = async (title: string) => {
    const r = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(token),
      payload: { company_code: 'VOLT', complaint_category: 'Telecom', title, description: 'No signal' },
    });
    expect(r.statusCode).toBe(201);
  };

  it('idle → running → draining → stopped, sends nothing once stopped, and runs again after start()', async () => {
    w = await testWorker(t);
    expect(w.worker.state).toBe('idle');
    const starting = w.worker.start();
    expect(w.worker.state).toBe('starting');
    await starting;
    expect(w.worker.state).toBe('running');
    await file('first');
    await rx.waitFor(1); // the commit woke the loop

    const stopping = w.worker.stop();
    expect(w.worker.state).toBe('draining');
    await stopping;
    expect(w.worker.state).toBe('stopped');
    await file('while stopped');
    expect(await w.worker.drain()).toBe(0);
    expect(rx.requests).toHaveLength(1);

    await w.worker.start();
    expect(w.worker.state).toBe('running');
    await rx.waitFor(2);
    // The complaint filed while stopped is delivered now, and the first one not again.
    expect(new Set(rx.requests.map((r) => r.headers['idempotency-key'])).size).toBe(2);
  });
});
