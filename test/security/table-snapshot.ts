import { sql } from 'kysely';
import type { Db } from '../../src/storage/db.js';
import type { Database } from '../../src/storage/schema.js';

/** Every table of the schema: a refused request must change none of them. */
export const TABLES: ReadonlyArray<keyof Database> = [
  'companies',
  'users',
  'sessions',
  'consumers',
  'consumer_tokens',
  'consumer_sign_in_links',
  'consumer_sessions',
  'api_keys',
  'complaints',
  'complaint_counts',
  'messages',
  'evidence',
  'settlement_offers',
  'followups',
  'complaint_notes',
  'complaint_levels',
  'action_drafts',
  'social_drafts',
  'events',
  'endpoints',
  'endpoint_concurrency',
  'deliveries',
  'attempts',
  'feedback_records',
  'automations',
  'destinations',
  'retention_held',
  'audit_log',
  'company_operations',
  'recover_jobs',
  'shield_alert_keys',
];

// Tables whose rows carry updated_at: with the clock moved on before each request, an in-place change shows there.
const UPDATED: ReadonlyArray<keyof Database> = ['complaints', 'endpoints', 'deliveries', 'automations'];

/**
 * Row counts of every table, the latest updated_at of the mutable ones, and the revoked keys, in one query.
 * Cheap enough to take around every fuzzed request; equal snapshots mean nothing was written.
 */
export async function snapshot(db: Db): Promise<Record<string, number>> {
  const parts = [
    ...TABLES.map((t) => sql`(select count(*) from ${sql.table(t)}) as ${sql.ref(`n_${t}`)}`),
    ...UPDATED.map((t) => sql`(select coalesce(max(updated_at), 0) from ${sql.table(t)}) as ${sql.ref(`u_${t}`)}`),
    sql`(select count(*) from api_keys where revoked_at is not null) as ${sql.ref('revoked_keys')}`,
    sql`(select coalesce(sum(n), 0) from complaint_counts) as ${sql.ref('complaint_count_sum')}`,
    // Settings changed in place on the company row (a refused retention change must leave it).
    sql`(select coalesce(sum(retention_days), 0) from companies) as ${sql.ref('retention_days_sum')}`,
    sql`(select count(*) from companies where breach_rule is not null) as ${sql.ref('breach_rules')}`,
  ];
  const row = (await sql<Record<string, unknown>>`select ${sql.join(parts)}`.execute(db)).rows[0];
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
}

/** The tables whose snapshot entries differ, for a readable failure. */
export function changedTables(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys(before)
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k}: ${before[k]} → ${after[k]}`);
}
