/**
 * The one registry of error codes. Every error a client can see is an AppError with a stable code and status;
 * the API's error handler (src/api/error-handler.ts) is the only place that turns them into responses.
 */
export const ERRORS = {
  invalid_request: { status: 400, message: 'The request is invalid' },
  invalid_query: { status: 400, message: 'A query parameter is invalid' },
  invalid_json: { status: 400, message: 'The body is not valid JSON' },
  validation_failed: { status: 400, message: 'The body failed validation' },
  invalid_url: { status: 400, message: 'The URL is invalid' },
  invalid_text: { status: 400, message: 'Text must not contain NUL characters or lone UTF-16 surrogates' },
  invalid_time_zone: { status: 400, message: 'The time zone is not an IANA time zone name' },
  invalid_business_hours: { status: 400, message: 'The business hours are invalid' },
  invalid_holiday: { status: 400, message: 'A holiday is not a valid date' },
  invalid_range: { status: 400, message: 'The date range is invalid' },
  invalid_filter: { status: 400, message: "The endpoint's filter is invalid" },
  invalid_transform: { status: 400, message: "The endpoint's transformation is invalid" },
  invalid_retry_schedule: { status: 400, message: "The endpoint's retry schedule is invalid" },
  invalid_ordering: { status: 400, message: "The endpoint's ordering is invalid" },
  invalid_rate_limit: { status: 400, message: "The endpoint's rate limit is invalid" },
  transform_failed: { status: 422, message: 'The transformation failed on this event' },
  credentials_required: {
    status: 400,
    message: 'Changing where a stored credential is sent needs the credential again',
  },
  unauthorized: { status: 401, message: 'Missing or invalid credentials' },
  forbidden: { status: 403, message: 'Not allowed' },
  insufficient_scope: { status: 403, message: 'This API key does not have the scope for this route' },
  plan_required: { status: 403, message: 'API access needs the Professional or Enterprise plan' },
  retention_over_plan: { status: 403, message: "The retention window is longer than the company's plan keeps" },
  csrf_failed: { status: 403, message: 'Missing or invalid CSRF token' },
  not_found: { status: 404, message: 'Not found' },
  conflict: { status: 409, message: 'The request conflicts with the current state' },
  invalid_transition: { status: 409, message: 'That step is not allowed in the current state' },
  not_claimed: { status: 409, message: 'The complaint must be claimed first' },
  already_claimed: { status: 409, message: 'The complaint is already claimed' },
  already_completed: { status: 409, message: 'The company has already completed the complaint' },
  already_exists: { status: 409, message: 'Already exists' },
  sign_in_link_invalid: {
    status: 410,
    message: 'This sign-in link cannot be used: it is unknown, already used or expired. Ask for a new one',
  },
  cursor_expired: { status: 410, message: 'The cursor points before the start of the retained history' },
  assignee_not_found: { status: 404, message: 'No staff user of your company has that email' },
  assignee_cannot_work: { status: 409, message: 'Viewers cannot be assigned complaints' },
  endpoint_limit_reached: { status: 409, message: 'The company has as many webhook endpoints as it may have' },
  recover_too_large: {
    status: 409,
    message: 'A bulk recover would requeue more deliveries than a company may at once',
  },
  recover_in_progress: { status: 409, message: 'A bulk recover of this company is still running' },
  automation_limit_reached: { status: 409, message: 'The company has as many automations as it may have' },
  api_key_limit_reached: { status: 409, message: 'The company has as many API keys as it may have' },
  payload_too_large: { status: 413, message: 'The body is too large' },
  unsupported_media_type: { status: 415, message: 'Unsupported content type' },
  upgrade_required: { status: 426, message: 'This route answers a WebSocket upgrade only' },
  headers_too_large: {
    status: 431,
    message: "The request's headers (the URL included) are larger than the server reads",
  },
  request_timeout: { status: 408, message: 'The request did not arrive in time' },
  rate_limited: { status: 429, message: 'Too many requests' },
  feedback_rate_limited: { status: 429, message: "The company's feedback records per minute are used up" },
  resend_rate_limited: { status: 429, message: "The company's resends and recovers per minute are used up" },
  internal: { status: 500, message: 'Internal error' },
  unavailable: { status: 503, message: 'The service is not ready' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
  }
}

/**
 * A rate or a share is used up: the answer carries Retry-After, the seconds until the request would fit (at least one).
 * `message` may be written from those seconds.
 */
export const overRate = (
  code: 'feedback_rate_limited' | 'resend_rate_limited' | 'rate_limited',
  message: string | ((retryAfterSeconds: number) => string),
  retryAfterMs: number,
  details: Record<string, unknown> = {},
) => {
  const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const text = typeof message === 'string' ? message : message(retryAfter);
  return new AppError(code, text, { ...details, retry_after: retryAfter });
};

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
const ROUTE_ECHO_LIMIT = 200;
/**
 * An unknown route. The path is echoed so a client sees which URL missed, cut to a length that names a route: the
 * 404 must not hand back whatever a caller sends (the request line may be up to the server's header limit).
 */
export const routeNotFound = (method: string, url: string) => {
  const path = url.split('?')[0];
  const shown = path.length > ROUTE_ECHO_LIMIT ? `${path.slice(0, ROUTE_ECHO_LIMIT)}…` : path;
  return new AppError('not_found', `Route ${method} ${shown} not found`);
};
/** Whether an error is the not-found answer (a read replica's may only mean it has not replayed the row yet). */
export const isNotFound = (err: unknown): boolean => err instanceof AppError && err.code === 'not_found';
export const invalidTransition = (message: string) => new AppError('invalid_transition', message);
export const validationFailed = (message: string, details?: Record<string, unknown>) =>
  new AppError('validation_failed', message, details);
