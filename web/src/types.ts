/** The API's shapes as the dashboard reads them. Fields other parts may add later are optional. */

export interface ComplaintSummary {
  escalatr_id: string;
  complaint_category: string;
  title?: string;
  status: string;
  stage: string;
  escalation_level: string;
  priority: string;
  amount_involved: number | null;
  currency: string | null;
  is_overdue: boolean;
  created_at: string;
}

export interface ComplaintDetail extends ComplaintSummary {
  title: string;
  description: string;
  sla_due_at: string | null;
  updated_at: string;
  consumer: { email: string; name: string | null } | null;
  claimed_by: string | null;
  delegated_to: string | null;
  resolution: { resolution_type: string | null; amount_recovered: number | null; notes: string | null } | null;
  /** The company completed it; the consumer's confirmation (resolve) or escalation is awaited. */
  company_completed: boolean;
  awaiting: 'company' | 'consumer' | null;
}

export interface FeedEvent {
  id: string;
  event: string;
  timestamp: string;
  data: Record<string, unknown>;
  delivery_status?: string;
}

export interface Message {
  id: string;
  author_kind?: string;
  author?: string;
  body: string;
  directed_to?: string | null;
  created_at: string;
}

export interface SettlementOffer {
  id: string;
  amount: number;
  currency: string;
  terms: string;
  status: string;
  counter_amount?: number | null;
  created_by?: string;
  created_at: string;
}

export interface Followup {
  id: string;
  question: string;
  answer?: string | null;
  asked_by?: string;
  created_at: string;
  answered_at?: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scope: 'read' | 'admin';
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export type AuthType = 'none' | 'bearer' | 'api_key' | 'custom_header';

export interface Endpoint {
  id: string;
  url: string;
  description?: string | null;
  enabled: boolean;
  events: string[];
  auth?: { type: AuthType; header_name?: string | null } | null;
  auth_type?: AuthType;
  has_token?: boolean;
  timeout_ms: number;
  disabled_reason?: string | null;
  disabled_at?: string | null;
  created_at?: string;
  updated_at?: string;
  secret?: string;
}

export interface Attempt {
  n?: number;
  started_at: string;
  duration_ms: number | null;
  status_code: number | null;
  error_kind?: string | null;
  error_message?: string | null;
  response_excerpt?: string | null;
}

export interface Delivery {
  id: string;
  event_id?: string;
  event?: string;
  event_name?: string;
  endpoint_id?: string | null;
  endpoint_url?: string | null;
  destination_id?: string | null;
  target?: string;
  status: string;
  attempt_count: number;
  next_attempt_at?: string | null;
  last_status_code?: number | null;
  last_error?: string | null;
  created_at: string;
  updated_at?: string;
}

/** `GET /api/v1/deliveries/{id}`: the delivery with every attempt; `attempts` is always this list. */
export interface DeliveryDetail extends Delivery {
  attempts: Attempt[];
}

export type ShieldLevel = 'none' | 'low' | 'medium' | 'high' | 'extreme';

export type Destination =
  | {
      id?: string;
      type: 'webhook';
      url: string;
      auth?: { type: AuthType; token?: string; header_name?: string | null; has_token?: boolean } | null;
      timeout_ms?: number;
    }
  | { id?: string; type: 'slack'; url: string }
  | { id?: string; type: 'email'; to: string[] };

export interface Automation {
  id: string;
  name: string;
  active: boolean;
  filter: { min_level: ShieldLevel; sources?: string[]; keywords?: string[] };
  destinations: Destination[];
  created_at?: string;
  updated_at?: string;
}

export interface FeedbackRecord {
  id: string;
  record_id?: string;
  source: string;
  source_url?: string | null;
  content: string;
  created_at?: string | null;
  received_at?: string;
  thread_id?: string | null;
  customer_id?: string | null;
  scored_at?: string | null;
  levels?: {
    escalation_level: string;
    emotional_intensity_level: string | null;
    sentiment_shift: string | null;
  } | null;
  cues?: string[];
  /** Each cue that fired, grouped as the scorer weighs it, with what it means. */
  signals?: FeedbackSignal[];
  sentiment?: number | null;
}

export interface FeedbackSignal {
  cue: string;
  group: 'threat' | 'soft' | 'emotion' | 'other';
  label: string;
  description: string;
}

/** One delivery of a Shield alert: to a destination of the automation, or to a company endpoint. */
export interface AlertDelivery {
  id: string;
  target: string;
  endpoint_id: string | null;
  destination_id: string | null;
  destination: Destination | null;
  status: string;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  updated_at: string;
}

/** A `shield.alert` raised for a feedback record (GET /api/v1/feedback/{id}/alerts). */
export interface RecordAlert {
  event_id: string;
  automation_id: string;
  automation_name: string | null;
  escalated_at: string;
  levels: { escalation_level: string; emotional_intensity_level: string | null; sentiment_shift: string | null };
  deliveries: AlertDelivery[];
}
