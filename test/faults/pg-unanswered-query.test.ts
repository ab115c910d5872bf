import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import pino from 'pino';
import { createMetrics } from '../../src/metrics.js';
import { openStore, type Store } from '../../src/storage/db.js';
import { postgresProfile } from '../../src/storage/dialects.js';
import { unansweredQueryLog, type ClosedConnection } from '../../src/storage/pg-unanswered-queries.js';
import { createTestStore, DATABASE_URL, type TestStore } from '../helpers/harness.js';
import { relayToPostgres, type TcpProxy } from './tcp-proxy.js';

/**
 * A query sent on a pooled connection whose network then dies silently waits for TCP to give up (about fifteen
 * minutes on Linux), and its session on the server can hold its transaction's locks all that time. The pool's
 * connections go through a loopback relay that the test makes forget its flows (the shared server is untouched); the
 * watch looks every 100 ms, where a process looks every 10 s.
 */
describe.skipIf(!DATABASE_URL)('PostgreSQL: a pooled query whose answer is not coming', () => {
  let ts: TestStore;
  let proxy: TcpProxy;
  let viaProxy: Store;
  const closed: ClosedConnection[] = [];
  const logged: string[] = [];

  beforeEach(async () => {
    ts = await createTestStore();
    let url: string;
    ({ proxy, url } = await relayToPostgres(DATABASE_URL!));
    closed.length = 0;
    logged.length = 0;
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
    const log = unansweredQueryLog(logger, 'primary');
    viaProxy = openStore({
      databaseUrl: url,
      pgSchema: ts.store.pgSchema,
      poolSize: 2,
      unanswered: {
        everyMs: 100,
        onClosed: (c) => {
          closed.push(c);
          log.onClosed!(c);
        },
      },
    });
  });
  afterEach(async () => {
    await viaProxy.close();
    await proxy.close();
    await ts.cleanup();
  });

  /** The server's view of one session (none when it is gone), asked directly, not through the relay. */
  const sessionOf = async (pid: number) => {
    const { rows } = await sql<{ state: string; wait_event_type: string | null }>`
      select state, wait_event_type from pg_stat_activity where pid = ${pid}`.execute(ts.store.db);
    return rows[0];
  };
  const pidOf = async (db: Store['db']) =>
    (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0].pid;
  /** Whether another connection could take the advisory lock `key` now (taken and let go in one transaction). */
  const lockFree = (key: number) =>
    ts.store.db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ got: boolean }>`select pg_try_advisory_xact_lock(${key}) as got`.execute(tx);
      return rows[0].got;
    });

  it('fails the query, ends its session (its locks go), closes the idle connection that went dark with it, and answers the next query on a new connection', async () => {
    // Two connections in the pool: one for the transaction below, the other left idle (its flow is forgotten too).
    const [first, second] = await Promise.all([pidOf(viaProxy.db), pidOf(viaProxy.db)]);
    expect(first).not.toBe(second);
    let pid = 0;
    const work = viaProxy.db
      .transaction()
      .execute(async (tx) => {
        pid = await pidOf(tx);
        await sql`select pg_advisory_xact_lock(4242)`.execute(tx);
        // The answer to this one is lost on the way: the relay forgets the flow while the server works on it.
        await sql`select pg_sleep(0.3)`.execute(tx);
        return 'committed';
      })
      .catch((err: Error) => err);
    await vi.waitFor(async () => expect((await sessionOf(pid))?.wait_event_type).toBe('Timeout'), {
      timeout: 10_000,
      interval: 10,
    });
    proxy.stall();
    expect(await lockFree(4242)).toBe(false);

    const failed = await work;
    // A lost connection, as the API and the workers know one (a 503 and a retry, not a bug of the request); here
    // the transaction's ROLLBACK reports it, on the connection the watch closed.
    expect(failed).toBeInstanceOf(Error);
    expect(postgresProfile.isUnavailable(failed)).toBe(true);
    // Told once its session has been ended on the server, just after the query failed.
    await vi.waitFor(() => expect(closed).toEqual([{ pid, waitedMs: expect.any(Number) as number, ended: true }]));
    expect(closed[0].waitedMs).toBeGreaterThanOrEqual(100);
    // The session is gone from the server, and its transaction's lock with it.
    await vi.waitFor(async () => expect(await sessionOf(pid)).toBeUndefined(), { timeout: 10_000, interval: 10 });
    expect(await lockFree(4242)).toBe(true);
    const warning = JSON.parse(logged[0]) as Record<string, unknown>;
    expect(warning).toMatchObject({
      level: 40,
      msg: 'a PostgreSQL connection stopped answering a query; closed it',
      server: 'primary',
      pid,
      session_ended: true,
    });

    // Counted for /metrics, which shows it as escalatr_pg_unanswered_connections_closed_total{server="primary"}.
    expect(viaProxy.pgUnansweredClosed!()).toBe(1);
    const scrape = await createMetrics({
      pgUnansweredClosed: () => ({ primary: viaProxy.pgUnansweredClosed!(), replica: 0 }),
    }).registry.metrics();
    expect(scrape).toContain('escalatr_pg_unanswered_connections_closed_total{server="primary"} 1');
    expect(scrape).toContain('escalatr_pg_unanswered_connections_closed_total{server="replica"} 0');

    // The idle connection had answered nothing since the lost query began waiting: closed with it, and its session
    // ended, rather than left for the next query to wait on.
    const idle = pid === first ? second : first;
    await vi.waitFor(async () => expect(await sessionOf(idle)).toBeUndefined(), { timeout: 10_000, interval: 10 });

    // The pool goes on with a new connection.
    const accepted = proxy.accepted();
    expect([first, second]).not.toContain(await pidOf(viaProxy.db));
    expect(proxy.accepted()).toBeGreaterThan(accepted);
    expect(closed).toHaveLength(1);
  });

  it('fails a query whose request was lost before the server read it', async () => {
    // The pool's one connection, idle: its next query's bytes are swallowed on the way to the server.
    const pid = await pidOf(viaProxy.db);
    proxy.stall();
    const failed = await sql`select 1`
      .execute(viaProxy.db)
      .then(() => null)
      .catch((err: Error) => err);
    expect(failed?.message).toBe('Connection terminated unexpectedly');
    expect(postgresProfile.isUnavailable(failed)).toBe(true);
    // The session waited on us for a statement that never came: ended too.
    await vi.waitFor(() => expect(closed).toEqual([{ pid, waitedMs: expect.any(Number) as number, ended: true }]));
  });

  it('leaves a long statement, and one waiting on a lock, to finish', async () => {
    await ts.store.db.connection().execute(async (holder) => {
      // A lock held by another connection (not through the relay), so the relayed query waits on it.
      await sql`select pg_advisory_lock(4343)`.execute(holder);
      const waiting = sql<{ done: number }>`select 1 as done from pg_advisory_lock(4343)`.execute(viaProxy.db);
      const long = sql<{ done: number }>`select 1 as done from pg_sleep(1)`.execute(viaProxy.db);
      // The pool's two connections, then at least three times the watch asked the server about them (each time on a
      // connection of its own, through the relay too).
      await vi.waitFor(() => expect(proxy.accepted()).toBeGreaterThanOrEqual(2 + 3), {
        timeout: 10_000,
        interval: 10,
      });
      await sql`select pg_advisory_unlock(4343)`.execute(holder);
      expect((await waiting).rows).toEqual([{ done: 1 }]);
      expect((await long).rows).toEqual([{ done: 1 }]);
    });
    await sql`select pg_advisory_unlock_all()`.execute(viaProxy.db);
    expect(closed).toEqual([]);
  });
});

/**
 * Behind a connection pooler the process id a connection is given is the pooler's, not its session's on the server:
 * asking the server about it would find nothing, or another session. The relay here hands out ids of its own, as
 * PgBouncer does; the watch must see that and touch nothing.
 */
describe.skipIf(!DATABASE_URL)('PostgreSQL: the unanswered-query watch behind a connection pooler', () => {
  let ts: TestStore;
  let pooler: TcpProxy;
  let viaPooler: Store;
  const closed: ClosedConnection[] = [];
  const logged: string[] = [];

  beforeEach(async () => {
    ts = await createTestStore();
    let url: string;
    ({ proxy: pooler, url } = await relayToPostgres(DATABASE_URL!, { ownBackendPids: true }));
    closed.length = 0;
    logged.length = 0;
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
    viaPooler = openStore({
      databaseUrl: url,
      pgSchema: ts.store.pgSchema,
      poolSize: 1,
      unanswered: { ...unansweredQueryLog(logger, 'primary'), everyMs: 100, onClosed: (c) => closed.push(c) },
    });
  });
  afterEach(async () => {
    await pooler.close();
    await viaPooler.close();
    await ts.cleanup();
  });

  it('says it cannot tell, and closes and ends nothing', async () => {
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(viaPooler.db);
    const serverPid = rows[0].pid;
    pooler.stall();
    let settled = false;
    const lost = sql`select 1`
      .execute(viaPooler.db)
      .catch((err: Error) => err)
      .finally(() => (settled = true));

    await vi.waitFor(() => expect(logged.join('')).toContain('a connection pooler in between'), { timeout: 10_000 });
    expect(JSON.parse(logged[0])).toMatchObject({ level: 40, server: 'primary' });
    // Nothing closed, and the session on the server untouched (its real id is not the one the client was given).
    expect(closed).toEqual([]);
    expect(settled).toBe(false);
    const { rows: session } = await sql<{ state: string }>`
      select state from pg_stat_activity where pid = ${serverPid}`.execute(ts.store.db);
    expect(session).toHaveLength(1);
    // Closing the relay ends the wait (the query fails as a lost connection).
    await pooler.close();
    expect(postgresProfile.isUnavailable(await lost)).toBe(true);
  });
});
