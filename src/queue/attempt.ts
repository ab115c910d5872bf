import type { DeliveryRow, DeliveryStatus } from './delivery.js';
import { nextRetryDelay } from './retry-schedule.js';

/** One delivery attempt's result, exactly what the attempts table records. */
export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  errorKind: AttemptErrorKind | null;
  errorMessage: string | null;
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
  | 'other';

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
