import { sql, type Kysely } from 'kysely';

/**
 * A Shield alert's idempotency keys get a table of their own, and `deliveries` loses its unique index on
 * `idempotency_key`.
 *
 * Only Shield alerts needed that index: their key (automation, destination, record) is what makes a second alert for
 * the same record impossible. Every other delivery's key is unique by construction (its new event's id and the
 * endpoint, or a new id). Yet every delivery paid for the index: an entry written on insert, and on PostgreSQL
 * another on every settle (a status change is not a HOT update, so each of the table's indexes gets a new entry),
 * in an index as large as the whole delivery history. It also stood in the way of partitioning deliveries by time,
 * since a unique index on a partitioned table must hold the partition columns.
 *
 * Existing alert keys are copied so an alert already sent stays sent. The keys leave with the company's retention
 * window, as the deliveries that carried them did.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('shield_alert_keys')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('shield_alert_keys_company_created')
    .on('shield_alert_keys')
    .columns(['company_id', 'created_at'])
    .execute();
  // Operational notices are the other deliveries to a destination-like receiver; their keys are fresh ids.
  await sql`
    insert into shield_alert_keys (key, company_id, created_at)
    select idempotency_key, company_id, created_at from deliveries
    where destination_id is not null and target not in ('ops_email', 'ops_slack')`.execute(db);
  await db.schema.dropIndex('deliveries_idempotency').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
