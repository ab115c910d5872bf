import { sql } from 'kysely';
import type { Logger } from 'pino';
import { openPgDb, type Db, type Store } from './db.js';
import { unansweredQueryLog } from './pg-unanswered-queries.js';

/** Which server answered a read. */
type ReadTarget = 'replica' | 'primary';

/**
 * Why a read was answered where it was. `routed`: the replica, as configured. The rest are the primary's:
 * `no_replica` (none configured, or SQLite), `replica_down` (the last check failed, or none has succeeded yet, or
 * the server is not a streaming standby), `replica_lagging` (further behind than the configured bound),
 * `own_write` (the company wrote since the replica last showed it had caught up), `replica_behind` (the replica
 * answered, but with what its lag could explain: a feed cursor or an id it has not replayed yet), `replica_failed`
 * (the replica's query failed: connection lost, or cancelled by a recovery conflict).
 */
export type ReadReason =
  'routed' | 'no_replica' | 'replica_down' | 'replica_lagging' | 'own_write' | 'replica_behind' | 'replica_failed';

/** How far the replica is behind the primary, as of the last check. */
export interface ReplicaLag {
  /** WAL bytes the primary has written that the replica has not replayed. */
  bytes: number;
  /** 0 when caught up; else the time since the last transaction the replica replayed was committed. */
  seconds: number;
}

export interface ReadStoreOptions {
  /** DATABASE_READ_URL: a PostgreSQL streaming standby of the primary. Absent or null: every read is the primary's. */
  replicaUrl?: string | null;
  /** A replica further behind than this serves no reads until it catches up (0: no bound). */
  maxLagMs?: number;
  /** How often the replica's position is checked (also what bounds how long a company's own writes pin it). */
  checkEveryMs?: number;
  poolSize?: number;
  /** Called once per read answered (a read retried on the primary twice: once per server). */
  onRead?: (target: ReadTarget, reason: ReadReason) => void;
  logger?: Logger;
}

/** How long opening a connection to the replica may take before a read goes to the primary instead. */
const REPLICA_CONNECT_TIMEOUT_MS = 2_000;
const DEFAULT_CHECK_EVERY_MS = 200;
/** Positions kept while the replica is behind: at the default interval, a minute of checks. */
const MAX_POSITIONS = 300;

/** A WAL position ('16/B374D848': high and low 32 bits in hex) as a number of bytes. */
function lsnOf(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

// SQLSTATEs a replica answers when it cannot run a read for a reason of its own: a query cancelled because replay
// needed what it held (recovery conflicts: 40001, 40P01 deadlock with the startup process, 57P04 database dropped),
// a server shutting down or restarting (57P01..57P03), connections refused or lost (class 08).
const REPLICA_FAILURE = /^(08|57P0[1-4]|40001|40P01)/;
const NETWORK_FAILURE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

function replicaCouldNotAnswer(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (REPLICA_FAILURE.test(code) || NETWORK_FAILURE.has(code)) return true;
  // node-postgres reports a connection lost mid-query or a pool that could not connect without a code.
  return (
    err instanceof Error && code === '' && /^(Connection terminated|timeout exceeded|Client has )/.test(err.message)
  );
}

/**
 * The one place that decides which server answers an API read: the primary, or the streaming replica named by
 * DATABASE_READ_URL. Writes and background work never come here; they use the store's own connection.
 *
 * A read goes to the replica unless the replica is down or too far behind, or the company has written since the
 * replica last showed it had replayed everything committed before that check (so a client that just wrote reads
 * its write). A read whose answer on the replica could be the replica's lag (a feed cursor or an id not found
 * there) or that the replica failed to answer is run again on the primary, whose answer stands.
 *
 * The position check runs every `checkEveryMs`: the primary's WAL insert position, then how far the replica's
 * replay is from it. Replay applies commits in the primary's commit order, so a replica that reached a position
 * holds every transaction committed before it.
 */
/** The replica's connection pool, as the read store uses it. */
interface Replica {
  db: Db;
  close: () => Promise<void>;
  unansweredClosed?: () => number;
}

export class ReadStore {
  private state: 'unchecked' | 'up' | 'down' = 'unchecked';
  private lag: ReplicaLag | null = null;
  /** Each noted write takes the next tick; the replica holds every write up to `caughtUpTick`. */
  private writeTick = 0;
  private caughtUpTick = 0;
  private readonly lastWrite = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  /** Primary positions read by checks the replica had not replayed yet, oldest first, with the write tick of each. */
  private positions: Array<{ lsn: bigint; tick: number }> = [];
  private readonly replica: Replica | null;

  constructor(
    private readonly primaryDb: Db,
    replica: Replica | null,
    private readonly opts: Omit<ReadStoreOptions, 'replicaUrl'> = {},
  ) {
    this.replica = replica;
  }

  /** Whether reads may go to a replica at all (one is configured on a PostgreSQL store). */
  get hasReplica(): boolean {
    return this.replica !== null;
  }

  /**
   * Runs a read for `scope` (a company id) where it should run. When it ran on the replica and failed with an error
   * `lagCouldExplain` accepts (a not-found the replica's lag could be the cause of), or the replica could not
   * answer at all, it runs again on the primary.
   */
  async read<T>(scope: string, read: (db: Db) => Promise<T>, lagCouldExplain?: (err: unknown) => boolean): Promise<T> {
    const reason = this.routeFor(scope);
    this.opts.onRead?.(reason === 'routed' ? 'replica' : 'primary', reason);
    if (reason !== 'routed') return read(this.primaryDb);
    try {
      return await read(this.replica!.db);
    } catch (err) {
      if (replicaCouldNotAnswer(err)) {
        this.markDown(err);
        this.opts.onRead?.('primary', 'replica_failed');
        return read(this.primaryDb);
      }
      if (lagCouldExplain?.(err)) {
        this.opts.onRead?.('primary', 'replica_behind');
        return read(this.primaryDb);
      }
      throw err;
    }
  }

  /** Records that `scope` wrote (after the write committed): its reads stay on the primary until the replica has it. */
  noteWrite(scope: string): void {
    if (this.replica) this.lastWrite.set(scope, ++this.writeTick);
  }

  /** The replica's lag as of the last check; null without a replica, or when the last check failed. */
  replicaLag(): ReplicaLag | null {
    return this.lag;
  }

  /** The replica's pooled connections closed so far because a query's answer was not coming; 0 without one. */
  replicaUnansweredClosed(): number {
    return this.replica?.unansweredClosed?.() ?? 0;
  }

  /** Starts the periodic position check (a timer that does not hold the process open); the first one runs now. */
  start(): void {
    if (!this.replica || this.timer) return;
    const tick = () => {
      if (this.checking) return;
      this.checking = true;
      void this.check().finally(() => (this.checking = false));
    };
    this.timer = setInterval(tick, this.opts.checkEveryMs ?? DEFAULT_CHECK_EVERY_MS);
    this.timer.unref();
    tick();
  }

  /**
   * Measures the replica's position once: the primary's WAL insert position P, then the replica's replay position R.
   * Every write noted before this call committed before P was read: once a check finds R at or past P (this check's
   * or an earlier one's), those writes are on the replica. Awaitable, so tests check without waiting for the timer.
   */
  async check(): Promise<void> {
    if (!this.replica) return;
    const tick = this.writeTick;
    try {
      const { rows: primary } = await sql<{ lsn: string }>`select pg_current_wal_insert_lsn()::text as lsn`.execute(
        this.primaryDb,
      );
      const { rows } = await sql<{ standby: boolean; replayed: string | null; since: number | null }>`
        select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as replayed,
          extract(epoch from now() - pg_last_xact_replay_timestamp()) as since`.execute(this.replica.db);
      const r = rows[0];
      if (!r.standby || r.replayed === null) {
        // A server that is not replaying WAL (a promoted standby, the primary itself, a logical subscriber) cannot
        // show which of our commits it holds.
        this.markDown(new Error('DATABASE_READ_URL is not a streaming standby (pg_is_in_recovery() is false)'));
        return;
      }
      const written = lsnOf(primary[0].lsn);
      const replayed = lsnOf(r.replayed);
      const bytes = written > replayed ? Number(written - replayed) : 0;
      this.lag = { bytes, seconds: bytes === 0 ? 0 : Math.max(0, Number(r.since ?? 0)) };
      // A busy primary is always a little ahead of the replica: a write is known replayed when a later check finds
      // the replica past the position an earlier check read after it, not only when the two are equal.
      this.positions.push({ lsn: written, tick });
      while (this.positions.length && this.positions[0].lsn <= replayed) this.caughtUp(this.positions.shift()!.tick);
      if (this.positions.length > MAX_POSITIONS) this.positions.shift();
      if (this.state !== 'up') this.opts.logger?.info({ lag: this.lag }, 'the read replica serves API reads');
      this.state = 'up';
    } catch (err) {
      this.markDown(err);
    }
  }

  /** Where a read of `scope` would go now, and why. */
  routeFor(scope: string): ReadReason {
    if (!this.replica) return 'no_replica';
    if (this.state !== 'up' || !this.lag) return 'replica_down';
    const maxLagMs = this.opts.maxLagMs ?? 0;
    if (maxLagMs > 0 && this.lag.seconds * 1000 > maxLagMs) return 'replica_lagging';
    if ((this.lastWrite.get(scope) ?? 0) > this.caughtUpTick) return 'own_write';
    return 'routed';
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.replica?.close();
  }

  private caughtUp(tick: number): void {
    if (tick <= this.caughtUpTick) return;
    this.caughtUpTick = tick;
    // Companies whose last write the replica now holds need no entry: keep the map to those still pinned.
    for (const [scope, t] of this.lastWrite) if (t <= tick) this.lastWrite.delete(scope);
  }

  private markDown(err: unknown): void {
    this.positions = [];
    if (this.state !== 'down')
      this.opts.logger?.warn({ err }, 'the read replica cannot serve reads; API reads go to the primary');
    this.state = 'down';
    this.lag = null;
  }
}

/**
 * The process's read store over an open primary. A replica is used only on PostgreSQL: SQLite has one file and no
 * replicas, so there DATABASE_READ_URL is ignored (and the log says so).
 */
export function openReadStore(primary: Store, opts: ReadStoreOptions): ReadStore {
  const url = opts.replicaUrl ?? null;
  if (url && primary.profile.name !== 'postgres') {
    opts.logger?.warn(
      'DATABASE_READ_URL is set but the store is SQLite, which has no read replicas: it is ignored and every read ' +
        'goes to the SQLite file',
    );
  }
  if (!url || primary.profile.name !== 'postgres') return new ReadStore(primary.db, null, opts);
  const { db, close, unansweredClosed } = openPgDb(url, {
    pgSchema: primary.pgSchema,
    poolSize: opts.poolSize,
    connectTimeoutMs: REPLICA_CONNECT_TIMEOUT_MS,
    unanswered: opts.logger && unansweredQueryLog(opts.logger, 'replica'),
  });
  return new ReadStore(primary.db, { db, close, unansweredClosed }, opts);
}
