import type { Generated } from 'kysely';

/**
 * Table types for Kysely. Conventions that hold on both SQLite and PostgreSQL:
 * times are epoch milliseconds (bigint, parsed to number), booleans are 0/1 integers,
 * JSON is stored as text, ids are prefixed random strings.
 */

export interface CompaniesTable {
  id: string;
  name: string;
  code: string;
  plan: 'free' | 'starter' | 'professional' | 'enterprise';
  sla_windows: string | null; // JSON: { "L1": seconds, … }; null = defaults in code
  action_wait_s: number | null;
  sla_calendar: string | null; // JSON: time zone, weekly hours, holidays, pause rule, warnings; null = 24×7
  complaint_seq: number;
  event_seq: number;
  /** Days of delivery history, feed and Shield feedback kept; null = the plan's default (migration 0016). */
  retention_days: number | null;
  /** Minutes kept instead of days when set (only the operator sets it; migration 0027). */
  retention_minutes: number | null;
  /**
   * The retention class of the company's window (storage/history-partitions.ts): its days when they are a class,
   * else 0. Attempt rows are written with it; on PostgreSQL it picks the partition retention drops whole.
   */
  history_class: Generated<number>;
  /** Events at or below this seq have left the feed (pruned by retention); the feed shows those above it. */
  feed_start_seq: number;
  /** JSON: what a breach does (reassign, flag); null = nothing beyond the event and the escalation (migration 0043). */
  breach_rule: string | null;
  created_at: number;
}

interface UsersTable {
  id: string;
  company_id: string;
  email: string;
  name: string | null;
  password_hash: string;
  role: 'owner' | 'admin' | 'agent' | 'viewer';
  failed_logins: number;
  locked_until: number | null;
  created_at: number;
}

interface SessionsTable {
  id: string; // sha256 of the cookie token
  user_id: string;
  company_id: string;
  csrf_token: string;
  expires_at: number;
  created_at: number;
}

interface ConsumersTable {
  id: string;
  email: string;
  name: string | null;
  created_at: number;
}

interface ConsumerTokensTable {
  id: string;
  consumer_id: string;
  token_hash: string;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** One-time sign-in links for consumers, by the SHA-256 of the token (migration 0044). */
interface ConsumerSignInLinksTable {
  id: string;
  token_hash: string;
  email: string;
  client_address: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** The consumer portal's cookie sessions, by the SHA-256 of the cookie (migration 0044). */
interface ConsumerSessionsTable {
  id: string;
  consumer_id: string;
  csrf_token: string;
  expires_at: number;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  company_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  scope: 'read' | 'admin';
  created_by: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface ComplaintsTable {
  escalatr_id: string;
  company_id: string;
  consumer_id: string;
  complaint_category: string;
  title: string;
  description: string;
  status: 'Open' | 'Escalated' | 'Resolved' | 'Withdrawn';
  stage: 'Intake' | 'Escalation' | 'Closure';
  level: number; // 1..9, shown as L1..L9
  priority: 'low' | 'medium' | 'high' | 'critical';
  amount_involved: number | null;
  currency: string | null;
  sla_due_at: number | null;
  /** The running window's budget in business seconds (null for windows started before calendars existed). */
  sla_window_s: number | null;
  /** While the window is paused (the company waits on the consumer): business seconds left; sla_due_at is null. */
  sla_remaining_s: number | null;
  /** When the scheduler must next look at the window: its next warning or its breach. */
  sla_alert_at: number | null;
  /** The largest fraction of the window already announced by an event (1: the breach). */
  sla_alerted: number | null;
  last_staff_response_at: number | null;
  claimed_by: string | null;
  delegated_to: string | null;
  resolution_type: string | null;
  amount_recovered: number | null;
  resolution_notes: string | null;
  withdraw_reason: string | null;
  /** Set when the company's breach rule flagged the complaint (migration 0043). */
  flagged_at: number | null;
  /** The first staff answer; `last_staff_response_at` moves on with each one. */
  first_response_at: number | null;
  /** When it became Resolved or Withdrawn. */
  closed_at: number | null;
  created_at: number;
  updated_at: number;
}

/** One row per level a complaint entered: the backlog and the attainment of each level's window (migration 0043). */
interface ComplaintLevelsTable {
  complaint_id: string;
  level: number;
  company_id: string;
  complaint_category: string;
  entered_at: number;
  /** When it escalated past the level or closed at it; null while it is there. */
  left_at: number | null;
  /** The level's window: met by a staff answer before its due time, or breached; null while undecided. */
  outcome: 'met' | 'breached' | null;
  decided_at: number | null;
}

/** Complaints per (company, status, stage, level), kept exact by triggers (migration 0002): list totals read it. */
interface ComplaintCountsTable {
  company_id: string;
  status: ComplaintsTable['status'];
  stage: ComplaintsTable['stage'];
  level: number;
  /** 1 when the complaints counted are held (`claimed_by` set), else 0. */
  held: number;
  /** 1 when they are flagged (`flagged_at` set), else 0. */
  flagged: number;
  n: number;
}

export interface MessagesTable {
  id: string;
  complaint_id: string;
  company_id: string;
  author_kind: 'consumer' | 'staff';
  author: string;
  body: string;
  directed_to: string | null;
  created_at: number;
}

export interface EvidenceTable {
  id: string;
  complaint_id: string;
  company_id: string;
  file_name: string;
  content_type: string;
  size: number;
  sha256: string;
  content: Buffer;
  created_at: number;
}

export interface SettlementOffersTable {
  id: string;
  complaint_id: string;
  company_id: string;
  amount: number;
  currency: string;
  terms: string;
  status: 'open' | 'accepted' | 'rejected' | 'countered';
  counter_amount: number | null;
  created_by: string;
  created_at: number;
  responded_at: number | null;
}

export interface FollowupsTable {
  id: string;
  complaint_id: string;
  company_id: string;
  question: string;
  answer: string | null;
  asked_by: string;
  created_at: number;
  answered_at: number | null;
}

interface ComplaintNotesTable {
  id: string;
  complaint_id: string;
  company_id: string;
  author: string;
  body: string;
  created_at: number;
}

export interface ActionDraftsTable {
  id: string; // draft_id
  action_id: string;
  complaint_id: string;
  company_id: string;
  kind: string;
  body: string;
  status: 'drafted' | 'filed';
  respond_by: number;
  wait_escalated_at: number | null;
  created_at: number;
  filed_at: number | null;
}

export interface SocialDraftsTable {
  id: string;
  complaint_id: string;
  company_id: string;
  platform: string;
  body: string;
  status: 'drafted' | 'posted';
  created_at: number;
  posted_at: number | null;
}

export interface EventsTable {
  id: string;
  company_id: string;
  seq: number; // per company, assigned under the company row lock, so commit order = seq order
  name: string;
  complaint_id: string | null;
  body: string; // the exact JSON bytes every receiver and the feed see
  delivery_status: 'none' | 'pending' | 'success' | 'failed' | 'dead';
  /** The W3C traceparent of the span that wrote it, while tracing is on (tracing.ts); null otherwise. */
  traceparent: Generated<string | null>;
  created_at: number;
}

export interface EndpointsTable {
  id: string;
  company_id: string;
  url: string;
  description: string | null;
  enabled: number;
  events: string; // JSON array of names, or ["*"]
  secret_enc: string;
  prev_secret_enc: string | null;
  prev_secret_expires_at: number | null;
  auth_type: 'none' | 'bearer' | 'api_key' | 'custom_header';
  auth_enc: string | null; // encrypted JSON { token, header_name }
  timeout_ms: number;
  disabled_reason: string | null;
  disabled_at: number | null;
  failing_since: number | null;
  /** JSON of the event filter (domain/event-filter.ts), or null: every subscribed event. */
  filter: string | null;
  /** JSON of the body transformation (webhooks/transform.ts), or null: the event's body as stored. */
  transform: string | null;
  /** JSON array of the delays in seconds between attempts, or null: the server's schedule (ESCALATR_RETRY_SCHEDULE). */
  retry_schedule: string | null;
  /** The password of a broker URL, sealed; null for HTTP endpoints and password-less brokers. */
  url_password_enc: string | null;
  /**
   * Set only on a development endpoint of `escalatr listen` (its deliveries go over the listener's connection, target
   * 'listener'): when a listener last held it, so one left behind expires.
   */
  listener_seen_at: number | null;
  /** 'per_complaint': one complaint's events reach it in commit order, one at a time. */
  ordering: Generated<'none' | 'per_complaint'>;
  /** Attempts a second at most, across every worker process; null: no limit. */
  rate_limit_per_s: number | null;
  /** The current one-second window of the rate limit (its start, ms) and the attempts taken from it. */
  rate_window_start: number | null;
  rate_window_used: Generated<number>;
  /** The receiver answered 429 with Retry-After: none of its deliveries start before this time. */
  held_until: number | null;
  /** The last operational notice this endpoint caused ('failing', 'disabling', 'disabled'); null once it succeeds. */
  ops_notice: string | null;
  created_at: number;
  updated_at: number;
}

/** Where a company's operational alerts go besides its event feed and subscribed endpoints. */
interface CompanyOperationsTable {
  company_id: string;
  /** 1: email the company's owners and admins. */
  email: number;
  /** A Slack incoming-webhook URL, sealed (the URL is its own credential). */
  slack_url_enc: string | null;
  updated_at: number;
}

/** A bulk recover: its filters as JSON, how many deliveries it covers and how many it requeued so far. */
export interface RecoverJobsTable {
  id: string;
  company_id: string;
  filter: string;
  status: 'running' | 'done';
  total: number;
  done: number;
  skipped: number;
  created_at: number;
  updated_at: number;
}

export interface DeliveriesTable {
  id: string;
  company_id: string;
  event_id: string;
  endpoint_id: string | null;
  destination_id: string | null;
  target: string; // 'endpoint' | 'listener' | 'webhook' | 'slack' | 'email' | 'broker'
  status: 'pending' | 'success' | 'failed' | 'dead';
  attempt_count: number;
  /** attempt_count when the current retry sequence began (a resend starts a new one). */
  sequence_start: number;
  next_attempt_at: number | null;
  lease_until: number | null;
  lease_owner: string | null;
  idempotency_key: string;
  last_status_code: number | null;
  last_error: string | null;
  /** On an endpoint with ordering per complaint: the complaint; null when the delivery is not ordered. */
  order_key: string | null;
  /** Its event's sequence (the company's commit order); set with order_key. */
  order_seq: number | null;
  created_at: number;
  updated_at: number;
  /** The company's retention class when the delivery was made (companies.history_class); 0: custom. */
  keep_days: Generated<number>;
}

/** An endpoint's adaptive concurrency as a worker last reported it (no row: open). */
interface EndpointConcurrencyTable {
  endpoint_id: string;
  company_id: string;
  state: 'open' | 'narrowed' | 'probing';
  current_limit: number;
  cap: number;
  since: number | null;
  reason: string | null;
  /** The worker process that reported it. */
  worker: string;
  updated_at: number;
}

export interface AttemptsTable {
  id: string;
  delivery_id: string;
  company_id: string;
  n: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error_kind: string | null;
  error_message: string | null;
  response_excerpt: string | null;
  /** The event delivered (null on rows written before migration 0049): erasure finds attempts that outlived their delivery by it. */
  event_id: string | null;
  /** The company's retention class when the row was written (companies.history_class); 0: custom. */
  keep_days: Generated<number>;
}

export interface FeedbackRecordsTable {
  id: string;
  company_id: string;
  record_id: string;
  source: string;
  source_url: string | null;
  content: string;
  thread_id: string | null;
  customer_id: string | null;
  source_created_at: number | null;
  received_at: number;
  scored_at: number | null;
  /** While a Shield processor scores the record: until when its claim holds. */
  score_lease_until: number | null;
  escalation_level: string | null;
  emotional_intensity_level: string | null;
  sentiment_score: number | null;
  sentiment_shift: string | null;
  cues: string | null; // JSON
  /** JSON { signals, escalation_logits }: what drove the levels (erased with the text). */
  explanation: string | null;
}

export interface AutomationsTable {
  id: string;
  company_id: string;
  name: string;
  active: number;
  filter: string; // JSON { min_level, sources?, keywords? }
  sensitivity: string; // conservative | balanced | sensitive
  created_at: number;
  updated_at: number;
}

export interface DestinationsTable {
  id: string;
  automation_id: string;
  company_id: string;
  type: 'webhook' | 'slack' | 'email' | 'broker';
  config_enc: string; // encrypted JSON: url, auth, to; a broker URL's password
  /** Webhook and broker destinations' signing secret (sealed); null until one is made (other types never sign). */
  secret_enc: string | null;
  prev_secret_enc: string | null;
  prev_secret_expires_at: number | null;
  timeout_ms: number;
  position: number;
  created_at: number;
}

/** Deliveries the pruning step passed while unsettled, removed once settled (migration 0016). */
/** A Shield alert's idempotency key per destination: a second alert for the same key is dropped. */
interface ShieldAlertKeysTable {
  /** `automation:destination:record`, also the alert delivery's idempotency key. */
  key: string;
  company_id: string;
  created_at: number;
}

interface RetentionHeldTable {
  delivery_id: string;
  company_id: string;
  event_id: string;
}

/** Operators' actions on people's data: the subject by internal id, details as JSON counts, no personal data. */
interface AuditLogTable {
  id: string;
  at: number;
  actor: string;
  action: string;
  subject: string | null;
  details: string; // JSON
}

export interface Database {
  companies: CompaniesTable;
  users: UsersTable;
  sessions: SessionsTable;
  consumers: ConsumersTable;
  consumer_tokens: ConsumerTokensTable;
  consumer_sign_in_links: ConsumerSignInLinksTable;
  consumer_sessions: ConsumerSessionsTable;
  api_keys: ApiKeysTable;
  complaints: ComplaintsTable;
  complaint_counts: ComplaintCountsTable;
  messages: MessagesTable;
  evidence: EvidenceTable;
  settlement_offers: SettlementOffersTable;
  followups: FollowupsTable;
  complaint_notes: ComplaintNotesTable;
  complaint_levels: ComplaintLevelsTable;
  action_drafts: ActionDraftsTable;
  social_drafts: SocialDraftsTable;
  events: EventsTable;
  endpoints: EndpointsTable;
  deliveries: DeliveriesTable;
  endpoint_concurrency: EndpointConcurrencyTable;
  attempts: AttemptsTable;
  feedback_records: FeedbackRecordsTable;
  automations: AutomationsTable;
  destinations: DestinationsTable;
  retention_held: RetentionHeldTable;
  shield_alert_keys: ShieldAlertKeysTable;
  audit_log: AuditLogTable;
  company_operations: CompanyOperationsTable;
  recover_jobs: RecoverJobsTable;
}
