import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { buildApp, type App } from '../../src/runtime/app.js';
import { openReadStore } from '../../src/storage/read-store.js';
import { replicaUnsupported, startPgReplica, type PgReplica } from '../../scripts/pg-replica.js';
import { createTestApp, DATABASE_URL, type TestApp } from '../helpers/harness.js';
import { call, endpointRow, file, get, staffStep, tenant, type Tenant } from '../api/platform-fixtures.js';

/**
 * DATABASE_READ_URL against a real streaming replica this file makes itself: a second PostgreSQL cluster on
 * 127.0.0.1 filled by pg_basebackup from the test server (scripts/pg-replica.ts), dropped at the end. Replay is
 * paused to hold the replica's view still while the primary moves on: what an answer shows tells which server gave it.
 */
const unsupported = DATABASE_URL ? await replicaUnsupported(DATABASE_URL) : 'DATABASE_URL is not set';
if (DATABASE_URL && unsupported) console.warn(`read-replica tests skipped: ${unsupported}`);

describe.skipIf(unsupported !== null)('a PostgreSQL read replica (DATABASE_READ_URL)', () => {
  let replica: PgReplica;
  let t: TestApp;
  let v: Tenant;

  // One replica and one app for the file (each is seconds to make); each test has a company of its own.
  beforeAll(async () => {
    replica = await startPgReplica(DATABASE_URL!);
    t = await createTestApp({
      config: { databaseReadUrl: replica.urlFor(DATABASE_URL!), readReplicaMaxLagMs: 0 },
    });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await replica?.drop();
  }, 60_000);

  let companies = 0;
  beforeEach(async () => {
    v = await tenant(t, `REP${'ABCDEFGH'[companies++]}`);
    await caughtUp(t.app);
  });
  afterEach(async () => {
    await replica.resume();
  });

  /** The replica has replayed everything written so far, and the read store has seen it do so. */
  async function caughtUp(app: App) {
    await replica.catchUp();
    await app.reads.check();
    await replica.catchUp();
    await app.reads.check();
  }

  const reads = async (app: App) => {
    const metric = await app.metrics.registry.getSingleMetricAsString('escalatr_store_reads_total');
    const count = (target: string, reason: string) =>
      Number(new RegExp(`target="${target}",reason="${reason}"} (\\d+)`).exec(metric)?.[1] ?? 0);
    return {
      replica: count('replica', 'routed'),
      behind: count('primary', 'replica_behind'),
      ownWrite: count('primary', 'own_write'),
    };
  };

  it('serves the list, detail and deliveries from the replica, and what the replica has not replayed from the primary', async () => {
    const endpoint = await endpointRow(t, v.company.id);
    const first = await file(t, v);
    await caughtUp(t.app);
    expect(t.app.reads.routeFor(v.company.id)).toBe('routed');

    await replica.pause();
    // Written on the primary after the replica stopped replaying (a consumer's filing: not the company's own write).
    const second = await file(t, v);
    await t.app.reads.check();
    expect(t.app.reads.replicaLag()!.bytes).toBeGreaterThan(0);
    const before = await reads(t.app);

    const list = await get(t, '/complaints', { authorization: `Bearer ${v.readKey}` });
    expect(list.status).toBe(200);
    // The replica's view: the first complaint only, though the primary holds both.
    expect(list.body.data.map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual([first]);
    const deliveries = await get(t, '/deliveries', { authorization: `Bearer ${v.adminKey}` });
    expect(deliveries.body.data).toHaveLength(1);
    expect(deliveries.body.data[0].endpoint_id).toBe(endpoint);

    // A detail the replica has not replayed is not a 404: the primary answers it.
    const detail = await get(t, `/complaints/${second}`, { authorization: `Bearer ${v.readKey}` });
    expect(detail.status).toBe(200);
    expect(detail.body.data.escalatr_id).toBe(second);
    const missing = await get(t, `/complaints/ESC-${v.company.code}-209901-99999`, {
      authorization: `Bearer ${v.readKey}`,
    });
    expect(missing.status).toBe(404);

    const after = await reads(t.app);
    expect(after.replica - before.replica).toBe(4);
    expect(after.behind - before.behind).toBe(2);

    const metrics = await t.app.metrics.registry.metrics();
    expect(metrics).toMatch(/escalatr_read_replica_up 1/);
    expect(Number(/escalatr_read_replica_lag_bytes (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);

    // Resumed and caught up, the replica shows both.
    await replica.resume();
    await caughtUp(t.app);
    const again = await get(t, '/complaints', { authorization: `Bearer ${v.readKey}` });
    expect(again.body.data).toHaveLength(2);
    expect((await reads(t.app)).replica - after.replica).toBe(1);
  });

  it('writes go to the primary while the replica stands still, and the writer then reads its writes', async () => {
    const id = await file(t, v);
    await caughtUp(t.app);
    await replica.pause();

    // A hot standby refuses every write: each of these succeeding means it ran on the primary.
    await staffStep(t, v, id, 'claim');
    const second = await file(t, v);
    expect(t.app.reads.routeFor(v.company.id)).toBe('own_write');
    const before = await reads(t.app);
    const list = await get(t, '/complaints', { authorization: `Bearer ${v.readKey}` });
    expect(list.body.data.map((c: { escalatr_id: string }) => c.escalatr_id).sort()).toEqual([id, second].sort());
    const detail = await get(t, `/complaints/${id}`, { authorization: `Bearer ${v.readKey}` });
    expect(detail.body.data.claimed_by).toBe('api-key:admin');
    expect((await reads(t.app)).ownWrite - before.ownWrite).toBe(2);

    // Another company that wrote nothing still reads the replica.
    const other = await tenant(t, `OTHER${'ABCDEFGH'[companies]}`);
    expect(t.app.reads.routeFor(other.company.id)).toBe('routed');

    await replica.resume();
    await caughtUp(t.app);
    expect(t.app.reads.routeFor(v.company.id)).toBe('routed');
  });

  it('the feed neither skips nor repeats an event while the replica is paused, behind a cursor, and resumed', async () => {
    // Two API processes over one primary and one replica: polls alternate between them (a load balancer), and only
    // the one that took the company's write keeps its reads on the primary.
    const second = await buildApp({ config: t.config, store: t.store, clock: t.clock, logger: false });
    await second.http.ready();
    await second.reads.check();
    const apps = [t.app, second];
    try {
      const seen: string[] = [];
      let cursor = 'start';
      let turn = 0;
      const poll = async () => {
        const app = apps[turn++ % 2];
        const r = await app.http.inject({
          method: 'GET',
          url: `/api/v1/events?after=${cursor}&limit=2`,
          headers: { authorization: `Bearer ${v.readKey}` },
        });
        expect(r.statusCode).toBe(200);
        const body = r.json() as { data: Array<{ id: string }>; next_cursor: string };
        seen.push(...body.data.map((e) => e.id));
        cursor = body.next_cursor;
        return body.data.length;
      };
      const drain = async () => {
        while ((await poll()) > 0);
      };

      const ids = [await file(t, v), await file(t, v), await file(t, v)];
      await caughtUp(t.app);
      await second.reads.check();
      await drain();

      await replica.pause();
      await file(t, v);
      await file(t, v);
      // The replica's view: nothing new after the cursor, from either process.
      expect(await poll()).toBe(0);
      expect(await poll()).toBe(0);

      // The company writes through the first process: its next polls there read the primary, and the cursor moves
      // past everything the replica holds.
      await staffStep(t, v, ids[0], 'claim');
      turn = 0;
      expect(await poll()).toBeGreaterThan(0);
      // The second process's replica has not replayed that cursor: it asks the primary instead of answering 400.
      const behind = (await reads(second)).behind;
      await drain();
      expect((await reads(second)).behind).toBeGreaterThan(behind);

      await file(t, v);
      await replica.resume();
      await drain();
      await caughtUp(t.app);
      await caughtUp(second);
      await file(t, v);
      await replica.catchUp();
      await drain();

      const stored = await t.store.db
        .selectFrom('events')
        .select('id')
        .where('company_id', '=', v.company.id)
        .orderBy('seq')
        .execute();
      expect(seen).toEqual(stored.map((e) => e.id));
    } finally {
      await second.http.close();
      await second.reads.close();
    }
  });
});

describe.skipIf(!DATABASE_URL)('a read replica that cannot answer', () => {
  let t: TestApp;
  afterEach(async () => t?.close());

  it('sends every read to the primary, and says so in the metrics', async () => {
    // Nothing listens on port 9 of 127.0.0.1: connections are refused at once.
    const down = new URL(DATABASE_URL!);
    down.hostname = '127.0.0.1';
    down.port = '9';
    t = await createTestApp({ config: { databaseReadUrl: down.toString() } });
    const v = await tenant(t);
    const id = await file(t, v);
    await t.app.reads.check();
    expect(t.app.reads.routeFor(v.company.id)).toBe('replica_down');
    const list = await get(t, '/complaints', { authorization: `Bearer ${v.readKey}` });
    expect(list.body.data.map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual([id]);
    const metrics = await t.app.metrics.registry.metrics();
    expect(metrics).toMatch(/escalatr_read_replica_up 0/);
    expect(metrics).toMatch(/escalatr_store_reads_total\{target="primary",reason="replica_down"} 1/);
    const ready = await call(t, { method: 'GET', url: '/readyz' });
    expect(ready.status).toBe(200);
  });

  it('refuses to read from a server that is not a standby (the primary itself given as the replica)', async () => {
    t = await createTestApp();
    const reads = openReadStore(t.store, { replicaUrl: DATABASE_URL });
    try {
      await reads.check();
      expect(reads.hasReplica).toBe(true);
      expect(reads.routeFor('any')).toBe('replica_down');
      expect(reads.replicaLag()).toBeNull();
    } finally {
      await reads.close();
    }
  });
});

describe('DATABASE_READ_URL on SQLite', () => {
  it.skipIf(DATABASE_URL !== null)('is ignored, and the log says so', async () => {
    const t = await createTestApp();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const reads = openReadStore(t.store, { replicaUrl: 'postgres://postgres@127.0.0.1:5439/x', logger });
    try {
      expect(reads.hasReplica).toBe(false);
      expect(reads.routeFor('any')).toBe('no_replica');
      expect(lines.join('')).toMatch(/DATABASE_READ_URL is set but the store is SQLite/);
    } finally {
      await reads.close();
      await t.close();
    }
  });
});
