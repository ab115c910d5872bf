import type pg from 'pg';
import type { Logger } from 'pino';

/**
 * A pooled PostgreSQL connection whose network dies while a query waits on it (a NAT or firewall that forgets the
 * flow, a server host that vanishes, a failover to another address) is never told: the query has been sent, so TCP
 * keepalive does not apply, and TCP gives up only after its retransmissions (about fifteen minutes with Linux's
 * defaults). Until then the caller waits, the connection is lost to the pool, and on the server the session it left
 * behind can hold its transaction's row locks, which every other process then waits for. Node cannot set
 * TCP_USER_TIMEOUT, and a timeout on the query alone cannot tell a lost answer from a long statement.
 *
 * So the pool's connections are looked at every `everyMs`. One that has a query waiting and has had no answer since
 * the last look is asked about on a connection of its own: is its session on the server still working on a
 * statement? A session that is working (`active`, not waiting to read from or write to us) is left alone however long
 * it takes. A session that is idle, waits on us, or is gone, at two looks in a row with still no answer, means the
 * answer is not coming: the socket is closed here, which fails the waiting query with a connection error and takes
 * the connection out of the pool, and the session is ended on the server (its transaction rolls back and its locks
 * go).
 *
 * A connection lost that way says the path to the server dropped flows, and the pool's idle connections that have
 * not answered anything since the lost one's query began waiting may be dead too: each would hold the next query put
 * on it for another 20–30 s. They are closed with it (and their sessions ended); a new connection costs a connect.
 */

/** A connection outside the pool to ask the server with, ended by a bounded goodbye (OwnPgConnection in db.ts). */
interface AskingConnection {
  client: pg.Client;
  hangUp(withinMs: number): Promise<void>;
}

/** How long the asking connection's goodbye may take before its socket is closed. */
const ASKING_GOODBYE_MS = 5_000;

/** The server's process id for a connection's session, which pg's types do not declare. */
const processIdOf = (client: pg.Client): number | null => (client as unknown as { processID: number | null }).processID;

/** What the watch tells its owner. */
export interface UnansweredQueryEvents {
  /** Each connection closed. */
  onClosed?: (closed: ClosedConnection) => void;
  /**
   * Once, when the watch found it cannot tell: the process ids its connections were given are not the server's
   * (a connection pooler in between), so it stops asking.
   */
  onBlind?: () => void;
}

export interface UnansweredQueryOptions extends UnansweredQueryEvents {
  /** How often the pool's connections are looked at. */
  everyMs: number;
  /** A new connection outside the pool (the pool may be full of the connections asked about). */
  connect: () => AskingConnection;
}

export interface ClosedConnection {
  /** The server process of the session it held. */
  pid: number;
  /** How long its oldest waiting query had gone without an answer, at least. */
  waitedMs: number;
  /** Whether its session was still on the server and was ended there. */
  ended: boolean;
}

/** The watch's events as log lines, naming the server (`primary` or `replica`). */
export function unansweredQueryLog(logger: Logger, server: 'primary' | 'replica'): UnansweredQueryEvents {
  return {
    onClosed: (closed) =>
      logger.warn(
        { server, pid: closed.pid, waited_ms: closed.waitedMs, session_ended: closed.ended },
        'a PostgreSQL connection stopped answering a query; closed it',
      ),
    onBlind: () =>
      logger.warn(
        { server },
        "PostgreSQL's process ids are not its sessions' (a connection pooler in between?): a query whose answer " +
          'is lost on the way waits for TCP to give up',
      ),
  };
}

/** Looks in a row at which a connection's session was found not working before it is given up. */
const LOOKS_BEFORE_CLOSING = 2;

/** What the watch keeps about one pooled connection. */
interface Watched {
  sent: number;
  answered: number;
  /** Since when (epoch ms) its queries have been waiting with `answered` unchanged; undefined while none waits. */
  waitingSince?: number;
  answeredThen?: number;
  /** Looks in a row that found its session not working, with no answer meanwhile. */
  notWorking: number;
  /** When (epoch ms) it last answered a query, or connected. */
  answeredAt: number;
}

const watched = new WeakMap<pg.Client, Watched>();

/**
 * The pool's client class, counting each connection's queries sent and answered (promise queries: the only kind the
 * store sends through the pool; a query with a callback or a submittable is passed on uncounted).
 */
export function countingClient(base: typeof pg.Client): typeof pg.Client {
  return class CountingClient extends base {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      watched.set(this, { sent: 0, answered: 0, notWorking: 0, answeredAt: Date.now() });
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's overloads, passed through as they are
    override query(...args: any[]): any {
      const result = (super.query as (...a: unknown[]) => unknown).apply(this, args);
      const first = args[0] as { submit?: unknown } | undefined;
      if (typeof args[args.length - 1] === 'function' || typeof first?.submit === 'function') return result;
      const w = watched.get(this)!;
      w.sent++;
      const answered = () => {
        w.answered++;
        w.answeredAt = Date.now();
      };
      (result as Promise<unknown>).then(answered, answered);
      return result;
    }
  };
}

export class UnansweredQueryWatch {
  private readonly clients = new Set<pg.Client>();
  /** The clients checked out of the pool now; the others sit idle in it. */
  private readonly inUse = new Set<pg.Client>();
  private readonly timer: NodeJS.Timeout;
  private looking: Promise<void> | null = null;
  /** Set when the server's process ids are not the sessions' (a pooler in between): nothing can be told then. */
  private blind = false;
  /** Connections closed so far because their answer was not coming. */
  closedCount = 0;

  constructor(
    pool: pg.Pool,
    private readonly opts: UnansweredQueryOptions,
  ) {
    pool.on('connect', (client) => {
      if (watched.has(client)) this.clients.add(client);
    });
    pool.on('acquire', (client) => this.inUse.add(client));
    pool.on('release', (_err, client) => this.inUse.delete(client));
    pool.on('remove', (client) => {
      this.clients.delete(client);
      this.inUse.delete(client);
    });
    this.timer = setInterval(() => void this.look(), opts.everyMs);
    this.timer.unref();
  }

  /** One look at every connection (one at a time: a look still asking when the next is due is not doubled). */
  private look(): Promise<void> {
    this.looking ??= this.lookOnce().finally(() => (this.looking = null));
    return this.looking;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.looking;
  }

  private async lookOnce(): Promise<void> {
    const now = Date.now();
    const suspects: Array<{ client: pg.Client; w: Watched; pid: number }> = [];
    for (const client of this.clients) {
      const w = watched.get(client)!;
      if (w.sent === w.answered) {
        w.waitingSince = undefined;
        w.notWorking = 0;
      } else if (w.waitingSince === undefined || w.answeredThen !== w.answered) {
        // Waiting now, or answered since the last look: waiting afresh from here.
        w.waitingSince = now;
        w.answeredThen = w.answered;
        w.notWorking = 0;
      } else {
        const pid = processIdOf(client);
        if (pid) suspects.push({ client, w, pid });
      }
    }
    if (!suspects.length || this.blind) return;
    let own: AskingConnection | null = null;
    try {
      own = this.opts.connect();
      await own.client.connect();
      const sessions = await this.sessionsOf(
        own.client,
        suspects.map((s) => ({ pid: s.pid, waitedMs: now - s.w.waitingSince! })),
      );
      if (!sessions) return;
      const lost: Array<{ s: (typeof suspects)[number]; session: 'idle' | undefined }> = [];
      for (const s of suspects) {
        const { w } = s;
        // Answered while the server was asked: the connection is alive.
        if (w.answeredThen !== w.answered || w.sent === w.answered) continue;
        const session = sessions.get(s.pid);
        if (session === 'working') {
          w.notWorking = 0;
          continue;
        }
        if (++w.notWorking >= LOOKS_BEFORE_CLOSING) lost.push({ s, session });
      }
      if (!lost.length) return;
      // Every socket is closed before anything is awaited, the idle ones first: what the failed queries' callers do
      // next (ask another connection whether their change was stored, transact in src/domain/context.ts) must not
      // land on an idle connection that is as dead.
      const idle = this.idleSilentSince(Math.min(...lost.map(({ s }) => s.w.waitingSince!)));
      for (const client of [...idle, ...lost.map(({ s }) => s.client)]) {
        // A waiting query fails with pg's "Connection terminated unexpectedly"; the pool drops the connection.
        client.connection.stream.destroy();
        this.clients.delete(client);
      }
      this.closedCount += lost.length;
      for (const { s, session } of lost) {
        const ended = session === 'idle' && (await endSession(own.client, s.pid));
        this.opts.onClosed?.({ pid: s.pid, waitedMs: Date.now() - s.w.waitingSince!, ended });
      }
      for (const client of idle) {
        const pid = processIdOf(client);
        if (pid) await endSession(own.client, pid);
      }
    } catch {
      // The server cannot be asked now (unreachable too): nothing is decided until it can.
    } finally {
      if (own) await own.hangUp(ASKING_GOODBYE_MS);
    }
  }

  /** The pool's idle connections that have answered nothing since `since`. */
  private idleSilentSince(since: number): pg.Client[] {
    return [...this.clients].filter((c) => !this.inUse.has(c) && watched.get(c)!.answeredAt < since);
  }

  /**
   * Each session's state on the server: `working` on a statement, `idle` (or waiting to read from or write to its
   * client, which here means us), or absent from the map when gone. A session with that pid that began after the
   * query started waiting is another one (after a failover, on another server) and counts as gone. Null when the
   * server's process ids are not the sessions' (a pooler in between): then nothing can ever be told, and the watch
   * stops asking.
   */
  private async sessionsOf(
    client: pg.Client,
    asked: Array<{ pid: number; waitedMs: number }>,
  ): Promise<Map<number, 'working' | 'idle'> | null> {
    const { rows: me } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    if (me[0]?.pid !== processIdOf(client)) {
      this.blind = true;
      this.opts.onBlind?.();
      return null;
    }
    const { rows } = await client.query<{ pid: number; working: boolean }>(
      `select a.pid, a.state = 'active' and a.wait_event is distinct from 'ClientRead'
           and a.wait_event is distinct from 'ClientWrite' as working
         from pg_stat_activity a join unnest($1::int[], $2::float8[]) as s(pid, waited) on s.pid = a.pid
         where a.backend_start <= now() - make_interval(secs => s.waited)`,
      [asked.map((a) => a.pid), asked.map((a) => a.waitedMs / 1000)],
    );
    return new Map(rows.map((r) => [r.pid, r.working ? 'working' : 'idle']));
  }
}

/** Ends a session that stopped answering us, so its transaction rolls back and its locks go. */
async function endSession(client: pg.Client, pid: number): Promise<boolean> {
  try {
    const { rows } = await client.query<{ ended: boolean }>('select pg_terminate_backend($1) as ended', [pid]);
    return rows[0]?.ended === true;
  } catch {
    return false;
  }
}
