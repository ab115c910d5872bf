import { sql, type Kysely } from 'kysely';

// Types chosen to mean the same on SQLite and PostgreSQL: bigint for epoch-ms times and counters,
// double precision for amounts, integer 0/1 for flags, text for JSON, bytea for file bytes (a BLOB on SQLite).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('companies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull().unique())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('sla_windows', 'text')
    .addColumn('action_wait_s', 'bigint')
    .addColumn('complaint_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('event_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text')
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('failed_logins', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('users_company').on('users').column('company_id').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('consumers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('consumer_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('consumer_id', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('api_keys_company').on('api_keys').columns(['company_id', 'created_at']).execute();

  await db.schema
    .createTable('complaints')
    .addColumn('escalatr_id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('consumer_id', 'text', (c) => c.notNull())
    .addColumn('complaint_category', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('level', 'bigint', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('amount_involved', 'double precision')
    .addColumn('currency', 'text')
    .addColumn('sla_due_at', 'bigint')
    .addColumn('last_staff_response_at', 'bigint')
    .addColumn('claimed_by', 'text')
    .addColumn('delegated_to', 'text')
    .addColumn('resolution_type', 'text')
    .addColumn('amount_recovered', 'double precision')
    .addColumn('resolution_notes', 'text')
    .addColumn('withdraw_reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  // The list is newest first within a company, optionally filtered by one of status, stage or level.
  await db.schema
    .createIndex('complaints_company_created')
    .on('complaints')
    .columns(['company_id', 'created_at', 'escalatr_id'])
    .execute();
  await db.schema
    .createIndex('complaints_company_status')
    .on('complaints')
    .columns(['company_id', 'status', 'created_at'])
    .execute();
  await db.schema
    .createIndex('complaints_company_stage')
    .on('complaints')
    .columns(['company_id', 'stage', 'created_at'])
    .execute();
  await db.schema
    .createIndex('complaints_company_level')
    .on('complaints')
    .columns(['company_id', 'level', 'created_at'])
    .execute();
  await db.schema.createIndex('complaints_consumer').on('complaints').columns(['consumer_id', 'created_at']).execute();
  // The SLA scheduler scans open complaints whose window has passed.
  await db.schema.createIndex('complaints_sla_due').on('complaints').columns(['sla_due_at']).execute();

  for (const [table, extra] of [
    [
      'messages',
      (t: any) =>
        t
          .addColumn('author_kind', 'text', (c: any) => c.notNull())
          .addColumn('author', 'text', (c: any) => c.notNull())
          .addColumn('body', 'text', (c: any) => c.notNull())
          .addColumn('directed_to', 'text'),
    ],
    [
      'evidence',
      (t: any) =>
        t
          .addColumn('file_name', 'text', (c: any) => c.notNull())
          .addColumn('content_type', 'text', (c: any) => c.notNull())
          .addColumn('size', 'bigint', (c: any) => c.notNull())
          .addColumn('sha256', 'text', (c: any) => c.notNull())
          .addColumn('content', 'bytea', (c: any) => c.notNull()),
    ],
    [
      'settlement_offers',
      (t: any) =>
        t
          .addColumn('amount', 'double precision', (c: any) => c.notNull())
          .addColumn('currency', 'text', (c: any) => c.notNull())
          .addColumn('terms', 'text', (c: any) => c.notNull())
          .addColumn('status', 'text', (c: any) => c.notNull())
          .addColumn('counter_amount', 'double precision')
          .addColumn('created_by', 'text', (c: any) => c.notNull())
          .addColumn('responded_at', 'bigint'),
    ],
    [
      'followups',
      (t: any) =>
        t
          .addColumn('question', 'text', (c: any) => c.notNull())
          .addColumn('answer', 'text')
          .addColumn('asked_by', 'text', (c: any) => c.notNull())
          .addColumn('answered_at', 'bigint'),
    ],
    [
      'action_drafts',
      (t: any) =>
        t
          .addColumn('action_id', 'text', (c: any) => c.notNull())
          .addColumn('kind', 'text', (c: any) => c.notNull())
          .addColumn('body', 'text', (c: any) => c.notNull())
          .addColumn('status', 'text', (c: any) => c.notNull())
          .addColumn('respond_by', 'bigint', (c: any) => c.notNull())
          .addColumn('wait_escalated_at', 'bigint')
          .addColumn('filed_at', 'bigint'),
    ],
    [
      'social_drafts',
      (t: any) =>
        t
          .addColumn('platform', 'text', (c: any) => c.notNull())
          .addColumn('body', 'text', (c: any) => c.notNull())
          .addColumn('status', 'text', (c: any) => c.notNull())
          .addColumn('posted_at', 'bigint'),
    ],
  ] as const) {
    let builder = db.schema
      .createTable(table)
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('complaint_id', 'text', (c) => c.notNull())
      .addColumn('company_id', 'text', (c) => c.notNull());
    builder = (extra as (t: any) => any)(builder);
    await builder.addColumn('created_at', 'bigint', (c: any) => c.notNull()).execute();
    await db.schema.createIndex(`${table}_complaint`).on(table).columns(['complaint_id', 'created_at']).execute();
  }
  await db.schema.createIndex('action_drafts_wait').on('action_drafts').columns(['respond_by']).execute();

  await db.schema
    .createTable('events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('complaint_id', 'text')
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('delivery_status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  // The feed pages by seq within a company, optionally narrowed by name, complaint or delivery status.
  await db.schema.createIndex('events_company_seq').on('events').columns(['company_id', 'seq']).unique().execute();
  await db.schema.createIndex('events_company_name').on('events').columns(['company_id', 'name', 'seq']).execute();
  await db.schema
    .createIndex('events_company_complaint')
    .on('events')
    .columns(['company_id', 'complaint_id', 'seq'])
    .execute();
  await db.schema
    .createIndex('events_company_status')
    .on('events')
    .columns(['company_id', 'delivery_status', 'seq'])
    .execute();

  await db.schema
    .createTable('endpoints')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('secret_enc', 'text', (c) => c.notNull())
    .addColumn('prev_secret_enc', 'text')
    .addColumn('prev_secret_expires_at', 'bigint')
    .addColumn('auth_type', 'text', (c) => c.notNull())
    .addColumn('auth_enc', 'text')
    .addColumn('timeout_ms', 'bigint', (c) => c.notNull())
    .addColumn('disabled_reason', 'text')
    .addColumn('disabled_at', 'bigint')
    .addColumn('failing_since', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('endpoints_company').on('endpoints').columns(['company_id', 'created_at']).execute();

  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('endpoint_id', 'text')
    .addColumn('destination_id', 'text')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempt_count', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint')
    .addColumn('lease_until', 'bigint')
    .addColumn('lease_owner', 'text')
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('last_status_code', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  // Claims scan only rows that still need sending, oldest due first.
  await sql`create index deliveries_due on deliveries (next_attempt_at) where status in ('pending', 'failed')`.execute(
    db,
  );
  await db.schema.createIndex('deliveries_endpoint').on('deliveries').columns(['endpoint_id', 'created_at']).execute();
  await db.schema.createIndex('deliveries_event').on('deliveries').columns(['event_id']).execute();
  await db.schema
    .createIndex('deliveries_idempotency')
    .on('deliveries')
    .columns(['idempotency_key'])
    .unique()
    .execute();

  await db.schema
    .createTable('attempts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('delivery_id', 'text', (c) => c.notNull())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('duration_ms', 'bigint', (c) => c.notNull())
    .addColumn('status_code', 'bigint')
    .addColumn('error_kind', 'text')
    .addColumn('error_message', 'text')
    .addColumn('response_excerpt', 'text')
    .execute();
  await db.schema.createIndex('attempts_delivery').on('attempts').columns(['delivery_id', 'n']).execute();
  await db.schema
    .createIndex('attempts_company_started')
    .on('attempts')
    .columns(['company_id', 'started_at'])
    .execute();

  await db.schema
    .createTable('feedback_records')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('source_url', 'text')
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('thread_id', 'text')
    .addColumn('customer_id', 'text')
    .addColumn('source_created_at', 'bigint')
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('scored_at', 'bigint')
    .addColumn('escalation_level', 'text')
    .addColumn('emotional_intensity_level', 'text')
    .addColumn('sentiment_score', 'double precision')
    .addColumn('sentiment_shift', 'text')
    .addColumn('cues', 'text')
    .execute();
  await db.schema
    .createIndex('feedback_company_record')
    .on('feedback_records')
    .columns(['company_id', 'record_id'])
    .unique()
    .execute();
  await db.schema
    .createIndex('feedback_company_received')
    .on('feedback_records')
    .columns(['company_id', 'received_at'])
    .execute();
  await db.schema
    .createIndex('feedback_thread')
    .on('feedback_records')
    .columns(['company_id', 'thread_id', 'received_at'])
    .execute();
  await db.schema.createIndex('feedback_unscored').on('feedback_records').columns(['scored_at']).execute();

  await db.schema
    .createTable('automations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('filter', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('automations_company').on('automations').columns(['company_id']).execute();

  await db.schema
    .createTable('destinations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('automation_id', 'text', (c) => c.notNull())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('config_enc', 'text', (c) => c.notNull())
    .addColumn('timeout_ms', 'bigint', (c) => c.notNull())
    .addColumn('position', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('destinations_automation')
    .on('destinations')
    .columns(['automation_id', 'position'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
