import type { DeliveryRow, DeliveryStatus } from './delivery.js';
import { nextRetryDelay } from './retry-schedule.js';

/** One delivery attempt's result, exactly what the attempts table records. */
export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  errorKind: AttemptErrorKind | null;
  /** What the tenant is shown: one fixed text per error kind (attemptErrorMessage), never the underlying error. */
  errorMessage: string | null;
  /**
   * The underlying error (resolver answers, addresses, OS text), scrubbed of credentials: for the server log only,
   * never stored or shown to a tenant.
   */
  detail?: string;
  /** First 2048 bytes of the response body as UTF-8 (a multi-byte character cut at the limit is dropped). */
  responseExcerpt: string | null;
  /** From Retry-After on 429/503, as a delay from now; capped so a receiver cannot park a delivery forever. */
  retryAfterMs: number | null;
  /** 410 Gone: the endpoint asks to be disabled. */
  gone: boolean;
}

export type AttemptErrorKind =
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'tls'
  | 'ssrf_blocked'
  | 'redirect'
  | 'http_status'
  | 'body_too_large'
  | 'smtp_not_configured'
  | 'smtp_auth'
  | 'smtp_rejected'
  | 'transform_failed'
  | 'broker_auth'
  | 'broker_rejected'
  | 'other';

/**
 * What a tenant sees for a failed attempt: one fixed text per error kind. The underlying error would let a tenant use
 * its webhook URL to resolve names and map internal addresses (a DNS answer, "connect ECONNREFUSED 10.0.0.7:443", the
 * address an SSRF check refused), so that text goes to the server log only. The HTTP status and the timeout are the
 * tenant's own receiver and setting, so they are kept.
 */
const FIXED_MESSAGES: Record<
  Exclude<AttemptErrorKind, 'timeout' | 'http_status' | 'redirect' | 'transform_failed'>,
  string
> = {
  connection_refused: 'the receiver refused the connection',
  connection_reset: 'the connection closed before a complete response',
  dns: 'the host name could not be resolved',
  tls: 'the TLS handshake failed: the certificate is not trusted or not valid for the host',
  ssrf_blocked: 'the host resolves to an address webhooks may not reach',
  body_too_large: 'the response was too large',
  smtp_not_configured: 'email alerts are not set up on this server (SMTP_URL)',
  smtp_auth: 'the mail server refused to sign in',
  smtp_rejected: 'the mail server refused the message',
  broker_auth: 'the broker refused the credentials',
  broker_rejected: 'the broker refused the message (its answer is in the response)',
  other: 'the request could not be sent',
};

export function attemptErrorMessage(
  kind: AttemptErrorKind,
  facts: { statusCode?: number | null; timeoutMs?: number; smtpCode?: number | null; transformError?: string } = {},
): string {
  switch (kind) {
    case 'timeout':
      return facts.timeoutMs ? `no complete response within ${facts.timeoutMs} ms` : 'no complete response in time';
    case 'http_status':
      return `HTTP ${facts.statusCode ?? 'error'}`;
    case 'redirect':
      return `HTTP ${facts.statusCode ?? 'redirect'} redirect not followed`;
    case 'transform_failed':
      // The tenant's own expression failed on its own event: its message is theirs, and nothing was sent anywhere.
      return `the endpoint's transformation failed: ${facts.transformError ?? 'unknown error'}`;
    case 'smtp_rejected':
      return facts.smtpCode ? `${FIXED_MESSAGES.smtp_rejected} (SMTP ${facts.smtpCode})` : FIXED_MESSAGES.smtp_rejected;
    default:
      return FIXED_MESSAGES[kind];
  }
}

/** What a worker hands back to the queue for one claimed delivery. */
export interface AttemptResult {
  delivery: DeliveryRow;
  startedAt: number;
  finishedAt: number;
  /** null when the delivery ended without an attempt (its endpoint was deleted or disabled). */
  outcome: AttemptOutcome | null;
  skipReason?: string;
  /** The lease owner that claimed it: the result applies only while that lease still holds. */
  owner: string;
  /** The receiver's own delays between attempts (ms), when it has them; else the server's schedule applies. */
  retryScheduleMs?: readonly number[];
}

export interface NextState {
  status: DeliveryStatus;
  next_attempt_at: number | null;
}

/** The state machine of one delivery after an attempt: success, a scheduled retry, or dead when the schedule is spent. */
export function nextState(
  schedule: readonly number[],
  attemptNumber: number,
  outcome: AttemptOutcome,
  now: number,
): NextState {
  if (outcome.ok) return { status: 'success', next_attempt_at: null };
  // 410 Gone means "stop": the endpoint is disabled and retrying would only knock on a closed door.
  if (outcome.gone) return { status: 'dead', next_attempt_at: null };
  const delay = nextRetryDelay(schedule, attemptNumber, outcome.retryAfterMs);
  return delay === null
    ? { status: 'dead', next_attempt_at: null }
    : { status: 'failed', next_attempt_at: now + delay };
}
