import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { nextDueAt } from '../../src/queue/next-due.js';
import { sendTestEvent, getEndpoint } from '../../src/webhooks/endpoints.js';
import {
  createListenerEndpoint,
  expireListenerEndpoints,
  LISTENER_IDLE_EXPIRY_MS,
  touchListenerEndpoint,
} from '../../src/webhooks/listener/listener-endpoints.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';

describe('development endpoints of escalatr listen', () => {
  let t: TestApp;
  let w: RunningWorker;
  let receiver: Receiver;
  let companyId: string;

  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(1_800_000_000_000) });
    companyId = (await seedTenant(t)).company.id;
    w = await testWorker(t);
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await w.stop();
    await receiver.close();
    await t.close();
  });

  it('workers leave their deliveries to the listener, beside an ordinary endpoint they send', async () => {
    // The listener's URL is the receiver's too: were a worker to send the listener's delivery, it would arrive here.
    const dev = await createListenerEndpoint(t.app.ctx, companyId, { forwardTo: receiver.url, events: ['*'] });
    const ordinary = await addEndpoint(t, companyId, receiver.url);
    await sendTestEvent(t.app.ctx, companyId, dev.id);
    await sendTestEvent(t.app.ctx, companyId, ordinary.id);

    expect(await w.worker.drain()).toBe(1);
    expect(receiver.requests).toHaveLength(1);
    const rows = await t.store.db.selectFrom('deliveries').select(['endpoint_id', 'target', 'status']).execute();
    expect(rows.sort((a, b) => a.target.localeCompare(b.target))).toEqual([
      { endpoint_id: ordinary.id, target: 'endpoint', status: 'success' },
      { endpoint_id: dev.id, target: 'listener', status: 'pending' },
    ]);
    // An idle worker does not wake for the listener's row either.
    expect(await nextDueAt(t.store, t.clock.now())).toBeNull();
    expect((await getEndpoint(t.app.ctx, companyId, dev.id)).development).toBe(true);
    expect((await getEndpoint(t.app.ctx, companyId, ordinary.id)).development).toBe(false);
  });

  it('expire after an hour without a listener; their pending deliveries end as dead', async () => {
    const held = await createListenerEndpoint(t.app.ctx, companyId, { forwardTo: receiver.url, events: ['*'] });
    const left = await createListenerEndpoint(t.app.ctx, companyId, { forwardTo: receiver.url, events: ['*'] });
    const ordinary = await addEndpoint(t, companyId, receiver.url);
    await sendTestEvent(t.app.ctx, companyId, left.id);

    t.clock.advance(LISTENER_IDLE_EXPIRY_MS - 1000);
    await touchListenerEndpoint(t.app.ctx, held.id, t.clock.now());
    expect(await expireListenerEndpoints(t.app.ctx, t.clock.now())).toBe(0);
    t.clock.advance(2000);
    expect(await expireListenerEndpoints(t.app.ctx, t.clock.now())).toBe(1);

    const ids = (await t.store.db.selectFrom('endpoints').select('id').execute()).map((r) => r.id).sort();
    expect(ids).toEqual([held.id, ordinary.id].sort());
    const delivery = await t.store.db
      .selectFrom('deliveries')
      .select(['status', 'last_error'])
      .executeTakeFirstOrThrow();
    expect(delivery).toEqual({ status: 'dead', last_error: 'endpoint deleted' });
  });
});
