import { sql } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Store, Tx } from '../storage/db.js';

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
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private connecting: Promise<void> | null = null;

  constructor(
    private readonly newClient: () => pg.Client,
    private readonly onWake: (channel: WakeChannel) => void,
    private readonly onListening: () => void,
    private readonly onError: (err: Error) => void,
  ) {
    this.connecting = this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const c = this.newClient();
    c.on('notification', (n) => {
      const channel = CHANNEL_OF_PG.get(n.channel);
      if (channel) this.onWake(channel);
    });
    c.on('error', (err) => {
      this.onError(err);
      this.scheduleReconnect();
    });
    try {
      await c.connect();
      for (const name of Object.values(PG_CHANNEL)) await c.query(`LISTEN ${name}`);
      if (this.stopped) {
        await c.end().catch(() => undefined);
        return;
      }
      this.client = c;
      // Anything committed while we were not listening is found by this turn.
      this.onListening();
    } catch (err) {
      this.onError(err as Error);
      await c.end().catch(() => undefined);
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    const lost = this.client;
    this.client = null;
    void lost?.end().catch(() => undefined);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connecting = this.connect();
    }, RECONNECT_MS);
    this.retry.unref();
  }

  async ready(): Promise<void> {
    await this.connecting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.connecting;
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
