import { sql, type Kysely } from 'kysely';

/**
 * Business-hours SLA windows. A company may keep a calendar (time zone, weekly hours, holidays, the pause rule and
 * warning fractions, as JSON text; null is the 24×7 default). A complaint's running window keeps what the scheduler
 * needs to warn and to breach exactly once: its budget in business seconds, the business seconds left while it is
 * paused (then `sla_due_at` is null), the next moment the scheduler must look at it, and the largest fraction of the
 * window already announced (1 once the breach was).
 *
 * Windows already running keep their due time and are breached as before; they carry no budget, so they send no
 * warnings.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('companies').addColumn('sla_calendar', 'text').execute();
  for (const [column, type] of [
    ['sla_window_s', 'bigint'],
    ['sla_remaining_s', 'bigint'],
    ['sla_alert_at', 'bigint'],
    ['sla_alerted', 'double precision'],
  ] as const) {
    await db.schema.alterTable('complaints').addColumn(column, type).execute();
  }
  await sql`update complaints set sla_alert_at = sla_due_at where sla_due_at is not null and status in ('Open', 'Escalated') and stage <> 'Closure'`.execute(
    db,
  );
  // The scheduler's scan: complaints whose next warning or breach has come.
  await db.schema.createIndex('complaints_sla_alert').on('complaints').columns(['sla_alert_at']).execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
