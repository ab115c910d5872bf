import { sql } from 'kysely';
import type { Logger } from 'pino';
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
 * partition is as small as the backlog, so its vacuum cleans its indexes too; the settled partition gathers dead
 * versions only from resends and retention, and a vacuum reads only the pages changed since the last one (the
 * visibility map), so its cost follows the traffic, not the history.
 *
 * `SKIP_LOCKED`: when another process (or autovacuum) is vacuuming the table, this one leaves it to them.
 */
const QUEUE_TABLES = ['deliveries_queue', 'deliveries_settled', 'events'] as const;
export type QueueTable = (typeof QUEUE_TABLES)[number];

export interface QueueVacuumOptions {
  intervalMs: number;
  minDeadRows: number;
  log?: Logger;
  /** Told of each vacuum: the table, its dead row versions before, and how long it took. */
  onVacuum?: (table: QueueTable, deadRows: number, ms: number) => void;
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

export class QueueVacuum {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<QueueTable[]> | null = null;

  constructor(
    private readonly store: Store,
    private readonly opts: QueueVacuumOptions,
  ) {}

  /** PostgreSQL only (SQLite leaves no dead row versions), and a count of 0 turns it off. */
  private get enabled(): boolean {
    return this.store.profile.name === 'postgres' && this.opts.minDeadRows > 0;
  }

  /** One look: vacuums each queue table past the count. Returns the tables vacuumed. A no-op unless enabled. */
  async run(): Promise<QueueTable[]> {
    if (!this.enabled) return [];
    this.running ??= this.runOnce().finally(() => (this.running = null));
    return this.running;
  }

  private async runOnce(): Promise<QueueTable[]> {
    const done: QueueTable[] = [];
    for (const { table, deadRows } of await tablesToVacuum(this.store, this.opts.minDeadRows)) {
      const began = performance.now();
      // Not in a transaction: VACUUM refuses to run inside one. The table name is one of QUEUE_TABLES.
      await sql`vacuum (skip_locked) ${sql.table(table)}`.execute(this.store.db);
      const ms = performance.now() - began;
      this.opts.onVacuum?.(table, deadRows, ms);
      this.opts.log?.debug({ table, deadRows, ms: Math.round(ms) }, 'queue table vacuumed');
      done.push(table);
    }
    return done;
  }

  start(): void {
    if (this.timer || !this.enabled) return;
    const schedule = () => {
      this.timer = setTimeout(() => {
        void this.run()
          .catch((err) => this.opts.log?.error({ err }, 'vacuuming the queue tables failed'))
          .finally(() => this.timer && schedule());
      }, this.opts.intervalMs);
      this.timer.unref();
    };
    schedule();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
