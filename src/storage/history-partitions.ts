import { sql } from 'kysely';
import type { Db } from './db.js';

const DAY_MS = 86_400_000;

/**
 * PostgreSQL keeps history in partitions that retention drops whole. A history table (attempts since migration 0039)
 * is list partitioned by `keep_days`, the retention class the company was in when the row was written: one partition
 * per class below, each range partitioned by the table's time column in spans of `spanDays`, and `<table>_custom`
 * (the list's default) for every other window (minutes, or days that are no class), which the retention step prunes
 * row by row.
 *
 * A class partition holds rows of companies whose window was exactly `days` when written, so once the span's end is
 * `days` old every row in it is outside its company's window and the partition is dropped. Longer classes use wider
 * spans so the table stays near a hundred partitions (a lookup by delivery visits each one's index): a row lives at
 * most one span past its window.
 */
export const HISTORY_CLASSES: ReadonlyArray<{ days: number; spanDays: number }> = [
  { days: 7, spanDays: 1 },
  { days: 30, spanDays: 1 },
  { days: 90, spanDays: 7 },
  { days: 365, spanDays: 7 },
];

/** A table of history kept in class and span partitions. */
export interface HistoryTable {
  /** The table partitioned by class: `<name>_k<days>` per class, ranged by `time`, each with `<name>_k<days>_default`. */
  name: string;
  /** The column the spans are on (epoch ms). */
  time: string;
  /** The root of the partition tree `name` belongs to: rows moved to another class are written there anew. */
  root: string;
  /** Days per span by class, where they differ from HISTORY_CLASSES' spans. */
  spanDays?: Readonly<Record<number, number>>;
}

/** Attempts: spans by when the attempt started. */
export const ATTEMPT_HISTORY: HistoryTable = { name: 'attempts', time: 'started_at', root: 'attempts' };

/**
 * Delivered deliveries (migration 0059): spans by when the delivery was made, which is when its event was, so an
 * event's deliveries share a span and leave with it. Wider spans than the attempts', so about forty partitions: the
 * API's reads of a company's or an endpoint's deliveries, and lookups by id, cannot name a time and are planned over
 * every partition with its indexes (over a hundred of them took 10–20 ms of planning a statement).
 */
export const DELIVERY_HISTORY: HistoryTable = {
  name: 'deliveries_settled',
  time: 'created_at',
  root: 'deliveries',
  spanDays: { 7: 1, 30: 5, 90: 15, 365: 30 },
};

/** Spans created ahead of the clock, so rows written meanwhile land in their partition, not in the class's default. */
const SPANS_AHEAD = 2;
/** Rows removed per statement from a class's default partition (rows written while their span had no partition). */
const DEFAULT_DELETE_ROWS = 5000;
/** A maintenance step waits this long for a lock on the table, then leaves the partition to the next run. */
const LOCK_TIMEOUT = '2s';

/** The retention class for a window: its days when they are a class, else 0 (custom: pruned row by row). */
export function historyClassOf(windowMs: number): number {
  return HISTORY_CLASSES.find((c) => c.days * DAY_MS === windowMs)?.days ?? 0;
}

/** A company's present window, as maintenance needs it to keep rows a lengthened window still covers. */
export interface CompanyWindow {
  id: string;
  /** The oldest time the company keeps at the pass's `now` (epoch ms). */
  keepsSince: number;
  /** Its class now (companies.history_class): where its rows moved out of a shorter class go. */
  historyClass: number;
}

export interface PartitionReport {
  created: number;
  dropped: number;
  /** Rows moved out of a class about to drop them into their company's present, longer one. */
  moved: number;
  /** Rows deleted from the classes' default partitions (written while their span had no partition). */
  defaultRowsDeleted: number;
  /** Range partitions held now, across the classes. */
  partitions: number;
  /** The start of the oldest range partition held (epoch ms); null when none. */
  oldestStart: number | null;
}

const classTable = (table: HistoryTable, days: number) => `${table.name}_k${days}`;
const defaultPartition = (table: HistoryTable, days: number) => `${classTable(table, days)}_default`;
const partitionName = (table: HistoryTable, days: number, start: number) =>
  `${classTable(table, days)}_p${new Date(start).toISOString().slice(0, 10).replaceAll('-', '')}`;

/** The start of the span holding `t`: spans are aligned to whole UTC days counted from the epoch. */
const spanStart = (t: number, spanDays: number) => Math.floor(t / (spanDays * DAY_MS)) * spanDays * DAY_MS;

/** The range partitions of one class in the schema in use, by start (epoch ms). */
async function rangePartitions(db: Db, table: HistoryTable, days: number): Promise<number[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    join pg_class p on p.oid = i.inhparent
    join pg_namespace n on n.oid = p.relnamespace
    where n.nspname = current_schema() and p.relname = ${classTable(table, days)}`.execute(db);
  const starts: number[] = [];
  for (const { name } of rows) {
    const m = /_p(\d{4})(\d{2})(\d{2})$/.exec(name);
    if (m) starts.push(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  }
  return starts.sort((a, b) => a - b);
}

/**
 * One maintenance pass of `table` at `now`: for each class, every span from the window's start to `SPANS_AHEAD` spans
 * ahead has its partition (rows already in the class's default partition for that span move into it), partitions
 * whose span ended a window ago are dropped, and rows older than the window are deleted from the default partition.
 * With `drop: false` nothing is dropped or deleted, only made. Each change is its own short transaction that waits at
 * most `LOCK_TIMEOUT` for the table; what it could not do is left to the next pass.
 */
export async function maintainHistoryPartitions(
  db: Db,
  now: number,
  companies: readonly CompanyWindow[] = [],
  table: HistoryTable = ATTEMPT_HISTORY,
  opts: { drop?: boolean } = {},
): Promise<PartitionReport> {
  const drop = opts.drop ?? true;
  // Set when a change waited LOCK_TIMEOUT in vain: the rest of the pass would wait as long for each, so it is left
  // to the next pass (a transaction holding rows of the table meanwhile), as the partitions held are reported.
  let busy = false;
  const report: PartitionReport = {
    created: 0,
    dropped: 0,
    moved: 0,
    defaultRowsDeleted: 0,
    partitions: 0,
    oldestStart: null,
  };
  for (const { days, spanDays: classSpanDays } of HISTORY_CLASSES) {
    const spanDays = table.spanDays?.[days] ?? classSpanDays;
    const span = spanDays * DAY_MS;
    const cutoff = now - days * DAY_MS;
    // Companies whose window is now longer than the class's: rows they wrote while in it are still theirs to keep.
    const longer = companies.filter((c) => c.keepsSince < cutoff);
    const held = new Set(await rangePartitions(db, table, days));
    for (const start of held) {
      if (!drop || busy || start + span > cutoff) continue;
      const name = partitionName(table, days, start);
      report.moved += await moveToPresentClass(db, table, name, longer, cutoff);
      const dropped = await withLockTimeout(db, (tx) => sql.raw(`drop table if exists ${name}`).execute(tx));
      if (dropped === 'busy') busy = true;
      else {
        if (dropped === 'done') report.dropped++;
        held.delete(start);
      }
    }
    for (let start = spanStart(cutoff, spanDays); !busy && start < now + SPANS_AHEAD * span; start += span) {
      if (held.has(start)) continue;
      const made = await withLockTimeout(db, (tx) => createPartition(tx, table, days, start, start + span));
      if (made === 'busy') busy = true;
      else {
        if (made === 'done') report.created++;
        held.add(start);
      }
    }
    const dflt = sql.table(defaultPartition(table, days));
    if (drop) report.moved += await moveToPresentClass(db, table, defaultPartition(table, days), longer, cutoff);
    while (drop) {
      const r = await sql`
        delete from ${dflt} where ctid in (
          select ctid from ${dflt} where ${sql.ref(table.time)} < ${cutoff} limit ${DEFAULT_DELETE_ROWS})`.execute(db);
      const n = Number(r.numAffectedRows ?? 0);
      report.defaultRowsDeleted += n;
      if (n < DEFAULT_DELETE_ROWS) break;
    }
    report.partitions += held.size;
    const oldest = Math.min(...held);
    if (held.size && (report.oldestStart === null || oldest < report.oldestStart)) report.oldestStart = oldest;
  }
  return report;
}

/** Rows moved per statement out of a class that would drop them. */
const MOVE_ROWS = 5000;

/**
 * Moves the rows of `companies` older than the class's cutoff but within their company's present window out of
 * partition `fromName` (a span about to be dropped, or the class's default partition about to be cleared) into the
 * company's present class: a window lengthened keeps the history written before the change for the new window. Only
 * rows that would otherwise go are moved, each once, in statements of MOVE_ROWS rows. Every column is copied as it
 * is but the class, whichever columns the table has.
 */
async function moveToPresentClass(
  db: Db,
  table: HistoryTable,
  fromName: string,
  companies: readonly CompanyWindow[],
  cutoff: number,
): Promise<number> {
  if (!companies.length) return 0;
  const ids = companies.map((c) => c.id);
  const classes = companies.map((c) => c.historyClass);
  const since = companies.map((c) => c.keepsSince);
  const { rows: columns } = await sql<{ name: string }>`
    select attname as name from pg_attribute
    where attrelid = ${fromName}::regclass and attnum > 0 and not attisdropped order by attnum`.execute(db);
  const names = sql.join(columns.map((c) => sql.ref(c.name)));
  const values = sql.join(columns.map((c) => (c.name === 'keep_days' ? sql`k.keep_days` : sql.ref(`m.${c.name}`))));
  const from = sql.table(fromName);
  const time = sql.ref(`a.${table.time}`);
  let moved = 0;
  for (;;) {
    const r = await sql`
      with k (company_id, keep_days, since) as (
        select * from unnest(${ids}::text[], ${classes}::bigint[], ${since}::bigint[])
      ), moved as (
        delete from ${from} where ctid in (
          select a.ctid from ${from} a join k on k.company_id = a.company_id
          where ${time} >= k.since and ${time} < ${cutoff} limit ${MOVE_ROWS})
        returning *
      )
      insert into ${sql.table(table.root)} (${names})
      select ${values} from moved m join k on k.company_id = m.company_id`.execute(db);
    const n = Number(r.numAffectedRows ?? 0);
    moved += n;
    if (n < MOVE_ROWS) return moved;
  }
}

/**
 * A span's partition, made as a table of its own, filled with the span's rows from the class's default partition,
 * then attached: creating it as a partition directly fails while the default holds rows of its span.
 */
async function createPartition(tx: Db, table: HistoryTable, days: number, start: number, end: number): Promise<void> {
  const name = sql.table(partitionName(table, days, start));
  const parent = sql.table(classTable(table, days));
  const dflt = sql.table(defaultPartition(table, days));
  const time = sql.ref(table.time);
  await sql`create table ${name} (like ${parent} including defaults)`.execute(tx);
  await sql`
    with moved as (delete from ${dflt} where ${time} >= ${start} and ${time} < ${end} returning *)
    insert into ${name} select * from moved`.execute(tx);
  await sql`alter table ${parent} attach partition ${name} for values from (${sql.lit(start)}) to (${sql.lit(end)})`.execute(
    tx,
  );
}

/**
 * Runs `fn` in a transaction that gives up on a lock after `LOCK_TIMEOUT`: `busy` when it did (55P03), `exists` when
 * another process's pass made the same partition first (42P07) or one overlapping it exists (42P17).
 */
async function withLockTimeout(db: Db, fn: (tx: Db) => Promise<unknown>): Promise<'done' | 'busy' | 'exists'> {
  // Inside a migration's transaction: that transaction is the one to take part in.
  if (db.isTransaction) {
    await fn(db);
    return 'done';
  }
  try {
    await db.transaction().execute(async (tx) => {
      await sql.raw(`set local lock_timeout = '${LOCK_TIMEOUT}'`).execute(tx);
      await fn(tx);
    });
    return 'done';
  } catch (err) {
    const code = String((err as { code?: unknown }).code);
    if (code === '55P03') return 'busy';
    // Made already, or (42P17) a span of another length covers part of it: its rows wait in the default partition.
    if (code === '42P07' || code === '42P17') return 'exists';
    throw err;
  }
}
