import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The complaint list's "held by", "unassigned" and "flagged" views at scale.
 *
 * - The page. A list ordered by (created_at, escalatr_id) and narrowed to one holder or to flagged complaints had no
 *   index that gave both: the holder index stopped at created_at and the flagged index is by flag time. SQLite walked
 *   the company's whole (created_at, escalatr_id) index for the few that matched: 0.3–0.4 s at a million complaints
 *   when none did, on the event loop every company shares (docs/benchmarks.md finding 70). The holder index now goes
 *   on to escalatr_id (and carries the filter columns), and flagged complaints have a partial index in list order.
 * - The total. `complaint_counts` (migration 0002) gains whether a complaint is held (`claimed_by` set) and whether
 *   it is flagged (`flagged_at` set), so "unassigned" and "flagged" totals are sums over its rows like every other
 *   filter's, not counts of up to every complaint the company has. At most 432 rows a company. One holder's total is
 *   still counted, on the holder index: it is bounded by what one person holds.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop index complaints_company_holder`.execute(db);
  // The filter columns ride along, so a holder's list narrowed by stage, level or flag is checked, and counted, in the
  // index: one person's complaints are walked as index entries, not read row by row.
  await sql`create index complaints_company_holder
    on complaints (company_id, claimed_by, created_at, escalatr_id, status, stage, level, flagged_at)`.execute(db);
  await sql`create index complaints_company_flagged_listed
    on complaints (company_id, created_at, escalatr_id) where flagged_at is not null`.execute(db);

  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  for (const trigger of ['complaint_counts_insert', 'complaint_counts_delete', 'complaint_counts_update'])
    await sql`drop trigger ${sql.raw(trigger)}${sql.raw(pg ? ' on complaints' : '')}`.execute(db);
  await sql`drop table complaint_counts`.execute(db);
  await db.schema
    .createTable('complaint_counts')
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('level', 'bigint', (c) => c.notNull())
    .addColumn('held', 'integer', (c) => c.notNull())
    .addColumn('flagged', 'integer', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('complaint_counts_pk', ['company_id', 'status', 'stage', 'level', 'held', 'flagged'])
    .execute();
  await sql`
    insert into complaint_counts (company_id, status, stage, level, held, flagged, n)
    select company_id, status, stage, level, ${HELD('')}, ${FLAGGED('')}, count(*) from complaints
    group by company_id, status, stage, level, ${HELD('')}, ${FLAGGED('')}`.execute(db);
  if (pg) await postgresTriggers(db);
  else await sqliteTriggers(db);
}

/** Whether a complaint row (`prefix`: `new.`, `old.` or none) is held and flagged, as the count table's 0 or 1. */
const HELD = (prefix: string) => sql.raw(`case when ${prefix}claimed_by is null then 0 else 1 end`);
const FLAGGED = (prefix: string) => sql.raw(`case when ${prefix}flagged_at is null then 0 else 1 end`);
/** A complaint row's count row, in the count table's key order. */
const KEY = (prefix: string) =>
  sql`${sql.raw(`${prefix}company_id, ${prefix}status, ${prefix}stage, ${prefix}level`)}, ${HELD(prefix)}, ${FLAGGED(prefix)}`;
const REMOVE = sql`update complaint_counts set n = n - 1
  where (company_id, status, stage, level, held, flagged) = (${KEY('old.')});`;
/** Whether an update moves a complaint from one count row to another. */
const MOVES = sql.raw(
  'old.company_id is distinct from new.company_id or old.status is distinct from new.status ' +
    'or old.stage is distinct from new.stage or old.level is distinct from new.level ' +
    'or (old.claimed_by is null) <> (new.claimed_by is null) or (old.flagged_at is null) <> (new.flagged_at is null)',
);
const MOVING_COLUMNS = sql.raw('company_id, status, stage, level, claimed_by, flagged_at');

async function sqliteTriggers(db: Kysely<any>): Promise<void> {
  const add = sql`
    insert into complaint_counts (company_id, status, stage, level, held, flagged, n) values (${KEY('new.')}, 1)
    on conflict (company_id, status, stage, level, held, flagged) do update set n = n + 1;`;
  await sql`create trigger complaint_counts_insert after insert on complaints begin ${add} end`.execute(db);
  await sql`create trigger complaint_counts_delete after delete on complaints begin ${REMOVE} end`.execute(db);
  await sql`
    create trigger complaint_counts_update after update of ${MOVING_COLUMNS} on complaints when ${MOVES}
    begin ${REMOVE} ${add} end`.execute(db);
}

async function postgresTriggers(db: Kysely<any>): Promise<void> {
  // Lock order as in migration 0002: the company row, then the counter rows.
  await sql`
    create or replace function complaint_counts_apply() returns trigger language plpgsql as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') then
        perform 1 from companies where id = old.company_id for no key update;
        ${REMOVE}
      end if;
      if tg_op in ('INSERT', 'UPDATE') then
        perform 1 from companies where id = new.company_id for no key update;
        insert into complaint_counts (company_id, status, stage, level, held, flagged, n) values (${KEY('new.')}, 1)
        on conflict (company_id, status, stage, level, held, flagged) do update set n = complaint_counts.n + 1;
      end if;
      return null;
    end
    $$`.execute(db);
  const each = sql.raw('for each row execute function complaint_counts_apply()');
  await sql`create trigger complaint_counts_insert after insert on complaints ${each}`.execute(db);
  await sql`create trigger complaint_counts_delete after delete on complaints ${each}`.execute(db);
  await sql`create trigger complaint_counts_update after update of ${MOVING_COLUMNS} on complaints
    for each row when (${MOVES}) execute function complaint_counts_apply()`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
