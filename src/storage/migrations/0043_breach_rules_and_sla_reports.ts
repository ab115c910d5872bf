import { sql, type Kysely } from 'kysely';

/**
 * What a company does when a response window is breached, and what SLA reports are computed from.
 *
 * - `companies.breach_rule`: JSON text (reassign to a named user or the least-loaded agent/admin, and/or flag); null
 *   does nothing beyond the breach event and the escalation.
 * - `complaints.flagged_at`: set by the breach rule; the dashboard marks and filters flagged complaints.
 * - `complaints.first_response_at` / `closed_at`: the first staff answer and the move to Resolved or Withdrawn, for
 *   response and resolution time percentiles.
 * - `complaint_levels`: one row per level a complaint entered (when it entered and left it, and whether that level's
 *   window was met by a staff answer or breached), for attainment per level and the backlog by level on each day.
 *
 * Complaints that exist already get one row for the level they are at, entered when they were filed and left when
 * they were last updated if closed, with no outcome; their first response is their last recorded one. Reports over
 * periods before this migration are therefore approximate.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('companies').addColumn('breach_rule', 'text').execute();
  for (const column of ['flagged_at', 'first_response_at', 'closed_at']) {
    await db.schema.alterTable('complaints').addColumn(column, 'bigint').execute();
  }
  await sql`update complaints set first_response_at = last_staff_response_at, closed_at = case when status in ('Resolved', 'Withdrawn') then updated_at end`.execute(
    db,
  );
  await db.schema
    .createTable('complaint_levels')
    .addColumn('complaint_id', 'text', (c) => c.notNull())
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('complaint_category', 'text', (c) => c.notNull())
    .addColumn('entered_at', 'bigint', (c) => c.notNull())
    .addColumn('left_at', 'bigint')
    .addColumn('outcome', 'text')
    .addColumn('decided_at', 'bigint')
    .addPrimaryKeyConstraint('complaint_levels_pk', ['complaint_id', 'level'])
    .execute();
  await sql`insert into complaint_levels (complaint_id, level, company_id, complaint_category, entered_at, left_at)
    select escalatr_id, level, company_id, complaint_category, created_at, closed_at from complaints`.execute(db);
  // Attainment reads the windows decided in a period; the backlog, the levels entered before a day's end.
  await db.schema
    .createIndex('complaint_levels_decided')
    .on('complaint_levels')
    .columns(['company_id', 'decided_at'])
    .execute();
  await db.schema
    .createIndex('complaint_levels_entered')
    .on('complaint_levels')
    .columns(['company_id', 'entered_at'])
    .execute();
  // Response and resolution percentiles read the complaints filed or closed in a period.
  await db.schema
    .createIndex('complaints_company_closed')
    .on('complaints')
    .columns(['company_id', 'closed_at'])
    .execute();
  await db.schema
    .createIndex('complaints_company_first_response')
    .on('complaints')
    .columns(['company_id', 'first_response_at'])
    .execute();
  await db.schema
    .createIndex('complaints_company_flagged')
    .on('complaints')
    .columns(['company_id', 'flagged_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
