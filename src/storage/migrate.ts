import { Migrator, PostgresAdapter, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from './db.js';
import * as m0001 from './migrations/0001_init.js';
import * as m0002 from './migrations/0002_complaint_counts.js';
import * as m0003 from './migrations/0003_delivery_sequences.js';
import * as m0004 from './migrations/0004_claim_function.js';
import * as m0005 from './migrations/0005_due_index_receivers.js';
import * as m0006 from './migrations/0006_event_status_function.js';
import * as m0007 from './migrations/0007_record_successes_function.js';
import * as m0008 from './migrations/0008_queue_write_plans.js';
import * as m0009 from './migrations/0009_queue_functions.js';
import * as m0011 from './migrations/0011_feedback_scoring_lease.js';
import * as m0013 from './migrations/0013_shield_alert_record_index.js';
import * as m0014 from './migrations/0014_fair_claim.js';
import * as m0015 from './migrations/0015_endpoint_concurrency.js';
import * as m0016 from './migrations/0016_retention.js';
import * as m0018 from './migrations/0018_audit_log.js';
import * as m0020 from './migrations/0020_sla_calendars.js';
import * as m0021 from './migrations/0021_notes_and_assignees.js';
import * as m0022 from './migrations/0022_endpoint_filter_transform.js';
import * as m0027 from './migrations/0027_retention_minutes.js';
import * as m0028 from './migrations/0028_endpoint_url_password.js';
import * as m0034 from './migrations/0034_endpoint_retry_schedule.js';
import * as m0035 from './migrations/0035_destination_secrets.js';
import * as m0036 from './migrations/0036_ordered_paced_endpoints.js';
import * as m0038 from './migrations/0038_listener_endpoints.js';
import * as m0039 from './migrations/0039_partitioned_attempts.js';
import * as m0041 from './migrations/0041_operational_events.js';
import * as m0042 from './migrations/0042_recover_jobs.js';
import * as m0043 from './migrations/0043_breach_rules_and_sla_reports.js';
import * as m0044 from './migrations/0044_consumer_sign_in.js';
import * as m0046 from './migrations/0046_shield_sensitivity.js';
import * as m0047 from './migrations/0047_claim_walks_receivers.js';
import * as m0048 from './migrations/0048_event_trace_context.js';
import * as m0049 from './migrations/0049_attempt_event_ids.js';
import * as m0050 from './migrations/0050_claim_per_receiver.js';
import * as m0051 from './migrations/0051_retention_held_order.js';
import * as m0052 from './migrations/0052_successes_ask_notice.js';
import * as m0053 from './migrations/0053_shield_alert_keys.js';
import * as m0054 from './migrations/0054_deliveries_queue_partition.js';
import * as m0055 from './migrations/0055_feedback_claim_covering.js';
import * as m0056 from './migrations/0056_deliveries_company_page.js';
import * as m0057 from './migrations/0057_deliveries_recoverable.js';
import * as m0058 from './migrations/0058_deliveries_keep_days.js';
import * as m0059 from './migrations/0059_deliveries_settled_by_time.js';
import * as m0060 from './migrations/0060_queued_deliveries_class.js';
import * as m0061 from './migrations/0061_queue_indexes_on_queue.js';
import * as m0062 from './migrations/0062_feedback_by_level.js';
import * as m0063 from './migrations/0063_complaints_held_and_flagged.js';
import * as m0064 from './migrations/0064_feedback_by_source.js';
import * as m0065 from './migrations/0065_complaints_held_by_status.js';

/** Migrations are listed here in order (static imports work the same under tsx, vitest and a build). Append only. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_complaint_counts': m0002,
  '0003_delivery_sequences': m0003,
  '0004_claim_function': m0004,
  '0005_due_index_receivers': m0005,
  '0006_event_status_function': m0006,
  '0007_record_successes_function': m0007,
  '0008_queue_write_plans': m0008,
  '0009_queue_functions': m0009,
  '0011_feedback_scoring_lease': m0011,
  '0013_shield_alert_record_index': m0013,
  '0014_fair_claim': m0014,
  '0015_endpoint_concurrency': m0015,
  '0016_retention': m0016,
  '0018_audit_log': m0018,
  '0020_sla_calendars': m0020,
  '0021_notes_and_assignees': m0021,
  '0022_endpoint_filter_transform': m0022,
  '0027_retention_minutes': m0027,
  '0028_endpoint_url_password': m0028,
  '0034_endpoint_retry_schedule': m0034,
  '0035_destination_secrets': m0035,
  '0036_ordered_paced_endpoints': m0036,
  '0038_listener_endpoints': m0038,
  '0039_partitioned_attempts': m0039,
  '0041_operational_events': m0041,
  '0042_recover_jobs': m0042,
  '0043_breach_rules_and_sla_reports': m0043,
  '0044_consumer_sign_in': m0044,
  '0046_shield_sensitivity': m0046,
  '0047_claim_walks_receivers': m0047,
  '0048_event_trace_context': m0048,
  '0049_attempt_event_ids': m0049,
  '0050_claim_per_receiver': m0050,
  '0051_retention_held_order': m0051,
  '0052_successes_ask_notice': m0052,
  '0053_shield_alert_keys': m0053,
  '0054_deliveries_queue_partition': m0054,
  '0055_feedback_claim_covering': m0055,
  '0056_deliveries_company_page': m0056,
  '0057_deliveries_recoverable': m0057,
  '0058_deliveries_keep_days': m0058,
  '0059_deliveries_settled_by_time': m0059,
  '0060_queued_deliveries_class': m0060,
  '0061_queue_indexes_on_queue': m0061,
  '0062_feedback_by_level': m0062,
  '0063_complaints_held_and_flagged': m0063,
  '0064_feedback_by_source': m0064,
  '0065_complaints_held_by_status': m0065,
};

/** The migrations this code knows, in order: a store that has applied any other is from a newer (or foreign) version. */
export const KNOWN_MIGRATIONS: readonly string[] = Object.keys(MIGRATIONS);

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Brings the store to the latest schema; refuses when the recorded history does not match this code's. */
export async function migrateToLatest(db: Db, schema?: string): Promise<string[]> {
  // With a schema (one per test on PostgreSQL) the bookkeeping tables are qualified with it: Kysely otherwise
  // finds another schema's kysely_migration table and assumes it is ours.
  schema ??= await currentPostgresSchema(db);
  const migrator = new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * On PostgreSQL without an explicit schema, the one the connection works in (search_path, e.g. set with
 * `?options=-c search_path=…` in DATABASE_URL), so a database shared with other schemas is not misread.
 */
async function currentPostgresSchema(db: Db): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  return rows[0]?.schema ?? undefined;
}
