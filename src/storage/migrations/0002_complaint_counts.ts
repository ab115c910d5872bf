import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The Platform API's list totals and filter combinations at scale.
 *
 * `complaint_counts` holds, per company, how many complaints are in each (status, stage, level) — at most 108 rows
 * a company — kept exact by triggers in the same transaction as every insert, state change or delete of a
 * complaint, whichever code path makes it. A list's `total` is then a sum over a handful of rows instead of a count
 * over up to millions of index entries.
 *
 * The pair indexes let a list filtered by two of status, stage and level (and all three, through one of them) read
 * its page straight off an index in order, even when the combination is rare.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('complaint_counts')
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('level', 'bigint', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('complaint_counts_pk', ['company_id', 'status', 'stage', 'level'])
    .execute();
  await sql`
    insert into complaint_counts (company_id, status, stage, level, n)
    select company_id, status, stage, level, count(*) from complaints group by company_id, status, stage, level
  `.execute(db);

  if (db.getExecutor().adapter instanceof PostgresAdapter) await postgresTriggers(db);
  else await sqliteTriggers(db);

  await db.schema
    .createIndex('complaints_company_status_level')
    .on('complaints')
    .columns(['company_id', 'status', 'level', 'created_at', 'escalatr_id'])
    .execute();
  await db.schema
    .createIndex('complaints_company_stage_level')
    .on('complaints')
    .columns(['company_id', 'stage', 'level', 'created_at', 'escalatr_id'])
    .execute();
  await db.schema
    .createIndex('complaints_company_status_stage')
    .on('complaints')
    .columns(['company_id', 'status', 'stage', 'created_at', 'escalatr_id'])
    .execute();
}

async function sqliteTriggers(db: Kysely<any>): Promise<void> {
  const add = sql`
    insert into complaint_counts (company_id, status, stage, level, n) values (new.company_id, new.status, new.stage, new.level, 1)
    on conflict (company_id, status, stage, level) do update set n = n + 1;`;
  const remove = sql`
    update complaint_counts set n = n - 1
    where company_id = old.company_id and status = old.status and stage = old.stage and level = old.level;`;
  await sql`create trigger complaint_counts_insert after insert on complaints begin ${add} end`.execute(db);
  await sql`create trigger complaint_counts_delete after delete on complaints begin ${remove} end`.execute(db);
  await sql`
    create trigger complaint_counts_update after update of company_id, status, stage, level on complaints
    when old.company_id is not new.company_id or old.status is not new.status or old.stage is not new.stage or old.level is not new.level
    begin ${remove} ${add} end`.execute(db);
}

async function postgresTriggers(db: Kysely<any>): Promise<void> {
  // Lock order: the company row, then the counter rows. Every complaint write already takes the company row (the
  // complaint and event sequences live there), some only after the complaint row; taking it here before any counter
  // row keeps one order for all of them, so counter updates can never deadlock.
  await sql`
    create function complaint_counts_apply() returns trigger language plpgsql as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') then
        perform 1 from companies where id = old.company_id for no key update;
        update complaint_counts set n = n - 1
        where company_id = old.company_id and status = old.status and stage = old.stage and level = old.level;
      end if;
      if tg_op in ('INSERT', 'UPDATE') then
        perform 1 from companies where id = new.company_id for no key update;
        insert into complaint_counts (company_id, status, stage, level, n) values (new.company_id, new.status, new.stage, new.level, 1)
        on conflict (company_id, status, stage, level) do update set n = complaint_counts.n + 1;
      end if;
      return null;
    end
    $$`.execute(db);
  await sql`create trigger complaint_counts_insert after insert on complaints for each row execute function complaint_counts_apply()`.execute(
    db,
  );
  await sql`create trigger complaint_counts_delete after delete on complaints for each row execute function complaint_counts_apply()`.execute(
    db,
  );
  await sql`
    create trigger complaint_counts_update after update of company_id, status, stage, level on complaints for each row
    when (old.company_id is distinct from new.company_id or old.status is distinct from new.status
          or old.stage is distinct from new.stage or old.level is distinct from new.level)
    execute function complaint_counts_apply()`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
