import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { OwnPgConnection, Store, Tx } from '../storage/db.js';

/**
 * The one wake-up mechanism for whatever in a process waits on rows in the store: deliveries that became due (the
 * delivery worker), feedback stored unscored (the Shield processor), and credentials changed (an API key revoked or
 * a company's plan changed: each API process drops the keys it verified, domain/api-key-cache.ts).
 *
 * A writer calls wakeAtCommit inside its transaction. Once the transaction commits, the same process's listeners
 * run at once (transact() calls `signal` after the commit, never before: a listener could look for rows it cannot
 * see yet); on PostgreSQL the transaction also sends NOTIFY, which the server delivers at commit to every process
 * LISTENing, so workers on other processes and machines start too instead of on their next poll. On SQLite another
 * process (the CLI beside a running server) cannot notify: while anyone listens, the store's commit counter is read
 * every COMMITS_WATCH_MS and a commit by another connection wakes every channel. Each loop keeps a poll underneath as
 * a safety net (a lost LISTEN connection, a NOTIFY sent while reconnecting).
 */
export type WakeChannel = 'deliveries' | 'feedback' | 'credentials';

const PG_CHANNEL: Record<WakeChannel, string> = {
  deliveries: 'escalatr_deliveries',
  feedback: 'escalatr_feedback',
  credentials: 'escalatr_credentials',
};
const CHANNEL_OF_PG = new Map(Object.entries(PG_CHANNEL).map(([k, v]) => [v, k as WakeChannel]));

/** The part of a unit of work a wake-up needs: its transaction, and the channels to signal once it commits. */
export interface WakeWork {
  tx: Tx;
  wakeAfterCommit: Set<WakeChannel>;
}

/** Inside a transaction: wake `channel`'s listeners, here and (PostgreSQL) in every process, once it commits. */
export async function wakeAtCommit(store: Store, work: WakeWork, channel: WakeChannel): Promise<void> {
  if (work.wakeAfterCommit.has(channel)) return;
  work.wakeAfterCommit.add(channel);
  if (store.profile.listenNotify) await sql`select pg_notify(${PG_CHANNEL[channel]}, '')`.execute(work.tx);
}

export interface WakeSubscription {
  close(): Promise<void>;
}

const RECONNECT_MS = 1000;
const COMMITS_WATCH_MS = 250;

/**
 * How often the LISTEN connection asks the server something, and how long it waits for the answer before it counts
 * the connection as lost. A listening connection only ever receives: if a NAT or firewall between here and the server
 * drops it silently (many drop a flow idle for a few minutes), neither end is told, and the process would go on
 * waiting for notifications that no longer come, falling back to its polls and to the API key cache's time bound.
 * Asking keeps such a flow alive, and an answer that does not come finds a dead one.
 */
export interface ListenHeartbeat {
  everyMs: number;
  timeoutMs: number;
}
const LISTEN_HEARTBEAT: ListenHeartbeat = { everyMs: 30_000, timeoutMs: 15_000 };

/** How other processes' commits reach this one: a LISTEN connection, or a watch on the store's commit counter. */
interface OtherProcesses {
  ready(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The listeners of one store, by channel. On PostgreSQL, while anyone listens, one connection LISTENs on every
 * channel for the whole process; it reconnects after a loss and wakes everyone when it is back (anything committed
 * meanwhile is found by that turn). On SQLite, while anyone listens, the commit counter is watched instead.
 */
export class Wakeups {
  private readonly listeners = new Map<WakeChannel, Set<() => void>>();
  private subscribers = 0;
  private connection: OtherProcesses | null = null;

  constructor(
    private readonly store: Pick<Store, 'newPgClient'> & Partial<Pick<Store, 'db' | 'profile'>>,
    private readonly log?: Logger,
    private readonly heartbeat: ListenHeartbeat = LISTEN_HEARTBEAT,
  ) {}

  /** Runs this process's listeners of `channel` (after a commit of this process that made work for them). */
  signal(channel: WakeChannel): void {
    this.wake(channel);
  }

  /** Runs the listeners of `channel`: for this process's commit (`signal`), or for another process's. */
  private wake(channel: WakeChannel): void {
    for (const listener of this.listeners.get(channel) ?? []) listener();
  }

  /**
   * Settles once other processes' wake-ups can reach this one: at once without subscribers (or a store), else when the
   * LISTEN connection's first attempt has listened (or failed; it then keeps retrying in the background), or on
   * SQLite when the commit counter's first value is read.
   */
  async ready(): Promise<void> {
    await this.connection?.ready();
  }

  /** Calls `listener` whenever `channel` is woken, here or (PostgreSQL) in another process, until closed. */
  subscribe(channel: WakeChannel, listener: () => void): WakeSubscription {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    this.subscribers++;
    if (!this.connection) this.connection = this.watchOtherProcesses();
    let closed = false;
    return {
      close: async () => {
        if (closed) return;
        closed = true;
        set.delete(listener);
        if (--this.subscribers > 0) return;
        const connection = this.connection;
        this.connection = null;
        await connection?.stop();
      },
    };
  }

  private watchOtherProcesses(): OtherProcesses | null {
    const wakeAll = () => {
      for (const channel of Object.keys(PG_CHANNEL) as WakeChannel[]) this.wake(channel);
    };
    const { newPgClient, db, profile } = this.store;
    if (newPgClient)
      return new PgListenConnection(
        newPgClient,
        (channel) => this.wake(channel),
        wakeAll,
        (err) => this.log?.warn({ err: err.message }, 'LISTEN connection lost; reconnecting'),
        this.heartbeat,
      );
    if (db && profile?.otherConnectionsCommits) {
      const read = profile.otherConnectionsCommits;
      return new CommitCounterWatch(() => read(db), wakeAll);
    }
    return null;
  }
}

/**
 * SQLite: reads the store's commit counter (which moves only when another connection commits) every
 * COMMITS_WATCH_MS, and wakes everyone when it moved. A read that fails (the store unavailable) is tried again next
 * time; one still running when the next is due is not doubled.
 */
class CommitCounterWatch implements OtherProcesses {
  private last: number | null = null;
  private reading: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly first: Promise<void>;

  constructor(
    private readonly read: () => Promise<number>,
    private readonly onCommitElsewhere: () => void,
  ) {
    this.first = this.tick();
    this.timer = setInterval(() => void this.tick(), COMMITS_WATCH_MS);
    this.timer.unref();
  }

  private tick(): Promise<void> {
    this.reading ??= (async () => {
      try {
        const now = await this.read();
        if (this.last !== null && now !== this.last) this.onCommitElsewhere();
        this.last = now;
      } catch {
        // Unavailable now; the next tick reads again.
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }

  ready(): Promise<void> {
    return this.first;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
  }
}

class PgListenConnection implements OtherProcesses {
  private own: OwnPgConnection | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private connecting: Promise<void> | null = null;
  private readonly pulse: NodeJS.Timeout;
  private asking: Promise<void> | null = null;

  constructor(
    private readonly newConnection: (opts: { timeoutMs: number }) => OwnPgConnection,
    private readonly onWake: (channel: WakeChannel) => void,
    private readonly onListening: () => void,
    private readonly onError: (err: Error) => void,
    private readonly heartbeat: ListenHeartbeat,
  ) {
    this.connecting = this.connect();
    this.pulse = setInterval(() => void this.ask(), heartbeat.everyMs);
    this.pulse.unref();
  }

  /** The heartbeat (LISTEN_HEARTBEAT): a question the server must answer in time, or the connection is made again. */
  private ask(): Promise<void> {
    const own = this.own;
    if (!own || this.asking) return this.asking ?? Promise.resolve();
    this.asking = (async () => {
      try {
        await own.client.query('select 1');
      } catch (err) {
        // Only if that connection is still the one in use: its error event may have replaced it meanwhile.
        if (this.own === own && !this.stopped) {
          this.onError(new Error(`no answer to the heartbeat: ${(err as Error).message}`));
          this.scheduleReconnect();
        }
      } finally {
        this.asking = null;
      }
    })();
    return this.asking;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    // Connecting, LISTEN and the heartbeat all give up after the heartbeat's wait: none can hang on a dead flow.
    const own = this.newConnection({ timeoutMs: this.heartbeat.timeoutMs });
    own.client.on('notification', (n) => {
      const channel = CHANNEL_OF_PG.get(n.channel);
      if (channel) this.onWake(channel);
    });
    own.client.on('error', (err) => {
      // A connection already given up (its heartbeat unanswered) reports its end too: that loss was reported.
      if (this.own !== own) return;
      this.onError(err);
      this.scheduleReconnect();
    });
    try {
      await own.client.connect();
      for (const name of Object.values(PG_CHANNEL)) await own.client.query(`LISTEN ${name}`);
      if (this.stopped) {
        await own.hangUp(this.heartbeat.timeoutMs);
        return;
      }
      this.own = own;
      // Anything committed while we were not listening is found by this turn.
      this.onListening();
    } catch (err) {
      this.onError(err as Error);
      own.destroy();
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    // Lost: there is no one to say goodbye to.
    this.own?.destroy();
    this.own = null;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connecting = this.connect();
    }, RECONNECT_MS);
    this.retry.unref();
  }

  /** Ends the session politely, but waits no longer than the heartbeat would for a server that does not answer. */
  async ready(): Promise<void> {
    await this.connecting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pulse);
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.connecting;
    if (this.own) await this.own.hangUp(this.heartbeat.timeoutMs);
    this.own = null;
    await this.asking;
  }
}
