import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The dashboard's feedback record page lists the alerts sent for one record. A `shield.alert` event names its record
 * only inside the stored body (`data.record.id` of the alert payload), so finding them meant reading every alert body
 * of the company. This partial expression index holds the record id of each alert event only: other events pay one
 * comparison of `name` on insert, nothing else, and rows removed by retention leave it with them.
 *
 * The indexed expressions must stay exactly as `shieldAlertRecordId` in src/storage/dialects.ts writes them: a query
 * uses an expression index only when its expression is the same.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`create index events_shield_alert_record on events (company_id, ((body::jsonb) #>> '{data,record,id}'), seq) where name = 'shield.alert'`.execute(
      db,
    );
  } else {
    await sql`create index events_shield_alert_record on events (company_id, json_extract(body, '$.data.record.id'), seq) where name = 'shield.alert'`.execute(
      db,
    );
  }
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
