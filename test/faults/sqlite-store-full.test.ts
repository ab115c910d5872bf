import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ManualClock } from '../../src/clock.js';
import { UNAVAILABLE_WINDOW_MS } from '../../src/storage/availability.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { bearer, createTestApp, DATABASE_URL, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';
import { changedTables, snapshot } from '../security/table-snapshot.js';

/**
 * SPEC §9 under store faults, on the embedded store: a full disk (PRAGMA max_page_count on the app's own
 * connection, so no page can be added) and a read-only file (PRAGMA query_only). Writes answer 503 `unavailable`
 * with the envelope and Retry-After, /readyz answers 503 while they fail, nothing is half-written, every
 * acknowledged change is delivered, and the service recovers by itself once the fault is gone.
 */
describe.skipIf(DATABASE_URL)('SQLite: full disk and read-only file', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  let rx: Receiver;
  let w: RunningWorker;

  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    tenant = await seedTenant(t);
    rx = await startReceiver();
    await addEndpoint(t, tenant.company.id, rx.url);
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await rx.close();
    await t.close();
  });

  const pragma = async (text: string) =>
    (await sql.raw(`pragma ${text}`).execute(t.store.db)).rows[0] as Record<string, unknown> | undefined;
  const fileComplaint = (n: number) =>
    t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(tenant.consumerToken),
      // Big enough that a few complaints need new pages.
      payload: {
        company_code: 'VOLT',
        complaint_category: 'Telecom',
        title: `Load ${n}`,
        description: `No signal ${n} `.repeat(300),
      },
    });
  const readyz = () => t.app.http.inject({ method: 'GET', url: '/readyz' });

  /** Every acknowledged complaint reached the receiver, and no delivery is left pending or failed. */
  async function expectAllDelivered(acknowledged: string[]) {
    // Results the worker could not record stay leased; once the lease runs out they are sent again.
    t.clock.advance(t.config.leaseMs + 1);
    await w.worker.drain();
    const received = new Set(rx.requests.map((r) => JSON.parse(r.body.toString()).data.escalatr_id as string));
    expect(acknowledged.filter((id) => !received.has(id))).toEqual([]);
    const open = await t.store.db
      .selectFrom('deliveries')
      .select('status')
      .where('status', 'in', ['pending', 'failed'])
      .execute();
    expect(open).toEqual([]);
  }

  function expectUnavailable(r: Awaited<ReturnType<typeof fileComplaint>>) {
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.json()).toEqual({ success: false, error: { code: 'unavailable', message: expect.any(String) } });
  }

  it('a full disk: writes get 503 unavailable, readyz 503, nothing half-written, then recovery by itself', async () => {
    const acknowledged: string[] = [];
    const first = await fileComplaint(0);
    expect(first.statusCode).toBe(201);
    acknowledged.push(first.json().data.escalatr_id);
    expect((await readyz()).statusCode).toBe(200);

    // No page may be added from now on: the disk is full. Writes that still fit in free space succeed.
    const pages = Number(Object.values((await pragma('page_count'))!)[0]);
    await pragma(`max_page_count = ${pages}`);
    let refused: Awaited<ReturnType<typeof fileComplaint>> | null = null;
    let before = await snapshot(t.store.db);
    for (let n = 1; n <= 50 && !refused; n++) {
      const r = await fileComplaint(n);
      if (r.statusCode === 201) {
        acknowledged.push(r.json().data.escalatr_id);
        before = await snapshot(t.store.db);
      } else {
        refused = r;
      }
    }
    expect(refused, 'the disk never filled').not.toBeNull();
    expectUnavailable(refused!);
    // The refused complaint left nothing behind: no complaint, event, delivery or counter row.
    expect(changedTables(before, await snapshot(t.store.db))).toEqual([]);

    // Not ready while writes fail; reads are still served.
    const notReady = await readyz();
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toEqual({ status: 'not_ready', store: 'sqlite', reason: 'store_write_failed' });
    expect(Number(notReady.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const list = await t.app.http.inject({ method: 'GET', url: '/api/v1/complaints', headers: bearer(tenant.readKey) });
    expect(list.statusCode).toBe(200);
    expect(list.json().total).toBe(acknowledged.length);

    // Another kind of write that needs new pages (a 9,000-character row spills into overflow pages) is refused too.
    const message = await t.app.http.inject({
      method: 'POST',
      url: `/api/v1/complaints/${acknowledged[0]}/messages`,
      headers: bearer(tenant.adminKey),
      payload: { body: 'm'.repeat(9000) },
    });
    expectUnavailable(message);
    expect(changedTables(before, await snapshot(t.store.db))).toEqual([]);

    // The worker keeps running through it (attempts it cannot record are retried after their lease).
    await w.worker.drain().catch(() => undefined);

    // Space is back. The window of the last failure runs out and readiness returns without anyone's help.
    await pragma('max_page_count = 1073741823');
    t.clock.advance(UNAVAILABLE_WINDOW_MS);
    expect((await readyz()).statusCode).toBe(200);
    const after = await fileComplaint(99);
    expect(after.statusCode).toBe(201);
    acknowledged.push(after.json().data.escalatr_id);

    await expectAllDelivered(acknowledged);
  });

  it('a read-only file: every write kind gets 503, readyz 503, then recovery by itself', async () => {
    const ok = await fileComplaint(0);
    expect(ok.statusCode).toBe(201);
    const id = ok.json().data.escalatr_id as string;

    await pragma('query_only = 1');
    const before = await snapshot(t.store.db);
    const writes = [
      await fileComplaint(1),
      await t.app.http.inject({
        method: 'POST',
        url: `/api/v1/complaints/${id}/claim`,
        headers: bearer(tenant.adminKey),
      }),
      await t.app.http.inject({
        method: 'POST',
        url: `/api/consumer/v1/complaints/${id}/messages`,
        headers: bearer(tenant.consumerToken),
        payload: { body: 'hello?' },
      }),
      await t.app.http.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: bearer(tenant.adminKey),
        payload: { url: 'https://hooks.example.com/x', events: ['*'] },
      }),
      await t.app.http.inject({
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: bearer(tenant.adminKey),
        payload: { name: 'ci' },
      }),
      await t.app.http.inject({
        method: 'POST',
        url: '/api/v1/feedback',
        headers: bearer(tenant.adminKey),
        payload: { id: 'f1', source: 'Zendesk', content: 'I will sue you' },
      }),
    ];
    for (const r of writes) expectUnavailable(r);
    expect(changedTables(before, await snapshot(t.store.db))).toEqual([]);
    expect((await readyz()).json()).toMatchObject({ status: 'not_ready', reason: 'store_write_failed' });

    await pragma('query_only = 0');
    // Still inside the window: not ready yet, and the answer says for how long.
    t.clock.advance(UNAVAILABLE_WINDOW_MS - 1000);
    const waiting = await readyz();
    expect(waiting.statusCode).toBe(503);
    expect(waiting.headers['retry-after']).toBe('1');
    t.clock.advance(1000);
    expect((await readyz()).statusCode).toBe(200);
    const claim = await t.app.http.inject({
      method: 'POST',
      url: `/api/v1/complaints/${id}/claim`,
      headers: bearer(tenant.adminKey),
    });
    expect(claim.statusCode).toBe(200);

    await expectAllDelivered([id]);
  });
});
