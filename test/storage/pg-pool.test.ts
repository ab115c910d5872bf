import { afterEach, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/storage/db.js';
import { DATABASE_URL } from '../helpers/harness.js';

/**
 * The pool keeps two connections however long they idle (a new connection's first plans over the partitioned
 * history are several times slower) and lets the rest go after a minute idle. Timers are faked: the pool's idle
 * timers are, the connections and their queries are real.
 */
describe.skipIf(!DATABASE_URL)('PostgreSQL pool: what it keeps when idle', () => {
  let store: Store | null = null;
  afterEach(async () => {
    vi.useRealTimers();
    await store?.close();
    store = null;
  });

  const backends = async (s: Store) =>
    Number(
      (
        await sql<{
          n: string;
        }>`select count(*) as n from pg_stat_activity where application_name = 'pool-probe'`.execute(s.db)
      ).rows[0].n,
    );

  it('keeps two connections past any idle time, and closes the others after a minute', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const url = new URL(DATABASE_URL!);
    url.searchParams.set('application_name', 'pool-probe');
    store = openStore({ databaseUrl: url.toString(), poolSize: 6 });
    const pool = store.pgPool!;
    // Six at once: the pool opens six connections.
    await Promise.all(Array.from({ length: 6 }, () => sql`select pg_sleep(0.05)`.execute(store!.db)));
    expect(pool.totalCount).toBe(6);

    await vi.advanceTimersByTimeAsync(59_000);
    expect(pool.totalCount).toBe(6);
    await vi.advanceTimersByTimeAsync(2_000);
    await vi.waitFor(() => expect(pool.idleCount).toBe(2));
    expect(pool.totalCount).toBe(2);

    // However long they then idle, the two stay, and the server still holds their sessions.
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(pool.totalCount).toBe(2);
    expect(await backends(store)).toBe(2);
    expect(pool.totalCount).toBe(2);
  });
});
