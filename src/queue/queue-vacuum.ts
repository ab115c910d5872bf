import { sql, type RawBuilder } from 'kysely';
import type { Logger } from 'pino';
import { PeriodicJob } from '../periodic.js';
import type { Store } from '../storage/db.js';

/**
 * PostgreSQL: the queue's tables vacuumed as soon as their dead row versions pass a count, whatever the table's size.
 *
 * Every settle leaves a dead row version in the queue's partition of `deliveries` (`deliveries_queue`, migration
 * 0054; the row itself moves to `deliveries_settled`), every lease write one more, and every change of an event's
 * delivery status one in `events`. The dead versions' entries stay in the queue's indexes until a vacuum: the
 * claim's walk and the next-due lookup (which reads `deliveries_due` from its front, where settled rows' old entries
 * sort first) step over them and check the rows they point to, so the queue costs more with every delivery settled
 * since the last vacuum. Autovacuum starts when dead versions pass a share of the table
 * (`autovacuum_vacuum_scale_factor`, 0.02 on the deliveries' partitions), checking each database once a minute, and
 * may be off. This step looks every `intervalMs` and vacuums a table with at least `minDeadRows`. The queue's
 * partition is as small as the backlog, so its vacuum cleans its indexes too, and a vacuum reads only the pages
 * changed since the last one (the visibility map), so its cost follows the traffic, not the history. The delivered
 * history (`deliveries_settled`, in spans by time since migration 0059) only takes rows in and is dropped a span at a
 * time; its few dead versions (resends, rows of a window changed since) are left to autovacuum.
 *
 * The queue's partition is analyzed here as well, when it has grown: at least the same count of rows written since
 * its last statistics, and more than twice the rows the server last counted in it (`reltuples`, which an analyze or
 * a vacuum sets). The claim's per-receiver pick has two indexes that answer it: `deliveries_due_by_receiver`, which
 * walks one receiver's due rows, and `deliveries_due`, which walks every due row of the company and filters by
 * receiver. With no statistics (the migration's analyze found the partition empty, and autovacuum may be off) the
 * planner cannot tell them apart and may take the second, and the claim function keeps that plan until the table's
 * statistics change: behind one company's backlog of hundreds of thousands of rows each pick then reads all of them,
 * and the other companies' deliveries and commits wait for the CPU it takes. Growth is what needs new statistics; a
 * draining backlog does not, and an analyze costs a sample of the table's pages each time.
 *
 * `SKIP_LOCKED`: when another process (or autovacuum) is vacuuming or analyzing the table, this one leaves it to them.
 */
const QUEUE_TABLES = ['deliveries_queue', 'events'] as const;
export type QueueTable = (typeof QUEUE_TABLES)[number];
/** The tables whose statistics the queue's plans depend on, and that change faster than autovacuum may notice. */
const ANALYZED_TABLES = ['deliveries_queue'] as const satisfies readonly QueueTable[];

export interface QueueVacuumOptions {
  intervalMs: number;
  minDeadRows: number;
  log?: Logger;
  /** Told of each vacuum: the table, its dead row versions before, and how long it took. */
  onVacuum?: (table: QueueTable, deadRows: number, ms: number) => void;
  /** Told of each analyze: the table, the rows written since its last statistics, and how long it took. */
  onAnalyze?: (table: QueueTable, modifiedRows: number, ms: number) => void;
}

/** The queue's tables holding at least `minDeadRows` dead row versions, with their counts (the server's statistics). */
export async function tablesToVacuum(
  store: Store,
  minDeadRows: number,
): Promise<Array<{ table: QueueTable; deadRows: number }>> {
  const { rows } = await sql<{ table: QueueTable; dead: string }>`
    select relname as table, n_dead_tup as dead from pg_stat_user_tables
    where schemaname = current_schema() and relname in (${sql.join([...QUEUE_TABLES])}) and n_dead_tup >= ${minDeadRows}
    order by relname`.execute(store.db);
  return rows.map((r) => ({ table: r.table, deadRows: Number(r.dead) }));
}

/**
 * The analyzed tables that have grown: rows written since their last statistics reach `minModifiedRows` (so a busy
 * queue with a small backlog is not analyzed at every look), and live rows more than twice what the server last
 * counted in them (so a large backlog's statistics are taken again only when it has doubled).
 */
export async function tablesToAnalyze(
  store: Store,
  minModifiedRows: number,
): Promise<Array<{ table: QueueTable; modifiedRows: number }>> {
  const { rows } = await sql<{ table: QueueTable; modified: string }>`
    select s.relname as table, s.n_mod_since_analyze as modified
    from pg_stat_user_tables s join pg_class c on c.oid = s.relid
    where s.schemaname = current_schema() and s.relname in (${sql.join([...ANALYZED_TABLES])})
      and s.n_mod_since_analyze >= ${minModifiedRows} and s.n_live_tup > 2 * greatest(c.reltuples, 0)
    order by s.relname`.execute(store.db);
  return rows.map((r) => ({ table: r.table, modifiedRows: Number(r.modified) }));
}

export class QueueVacuum {
  private readonly job: PeriodicJob<QueueTable[]>;

  constructor(
    private readonly store: Store,
    private readonly opts: QueueVacuumOptions,
  ) {
    this.job = new PeriodicJob({
      intervalMs: opts.intervalMs,
      run: () => this.runOnce(),
      onError: (err) => opts.log?.error({ err }, 'vacuuming or analyzing the queue tables failed'),
    });
  }

  /** PostgreSQL only (SQLite leaves no dead row versions), and a count of 0 turns it off. */
  private get enabled(): boolean {
    return this.store.profile.name === 'postgres' && this.opts.minDeadRows > 0;
  }

  /**
   * One look: vacuums each queue table past the count, then analyzes the queue's partition if it is due. Returns the
   * tables vacuumed. A no-op unless enabled.
   */
  async run(): Promise<QueueTable[]> {
    return this.enabled ? this.job.run() : [];
  }

  start(): void {
    if (this.enabled) this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  private async runOnce(): Promise<QueueTable[]> {
    const done: QueueTable[] = [];
    for (const { table, deadRows } of await tablesToVacuum(this.store, this.opts.minDeadRows)) {
      // Not in a transaction: VACUUM refuses to run inside one. The table name is one of QUEUE_TABLES.
      const ms = await this.timed(sql`vacuum (skip_locked) ${sql.table(table)}`);
      this.opts.onVacuum?.(table, deadRows, ms);
      this.opts.log?.debug({ table, deadRows, ms: Math.round(ms) }, 'queue table vacuumed');
      done.push(table);
    }
    for (const { table, modifiedRows } of await tablesToAnalyze(this.store, this.opts.minDeadRows)) {
      const ms = await this.timed(sql`analyze (skip_locked) ${sql.table(table)}`);
      this.opts.onAnalyze?.(table, modifiedRows, ms);
      this.opts.log?.debug({ table, modifiedRows, ms: Math.round(ms) }, 'queue table analyzed');
    }
    return done;
  }

  /** Runs one maintenance statement; returns its time in ms. */
  private async timed(statement: RawBuilder<unknown>): Promise<number> {
    const began = performance.now();
    await statement.execute(this.store.db);
    return performance.now() - began;
  }
}
