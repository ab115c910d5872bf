import { lockCompanyRow } from '../domain/companies.js';
import type { Selectable } from 'kysely';
import { iso, isoOrNull } from '../clock.js';
import { transact, type DomainContext } from '../domain/context.js';
import { eventBase, formatEscalatrId } from '../domain/complaints.js';
import { emitEvent, EVENT_NAMES } from '../domain/events.js';
import { isOperationalEvent } from '../domain/event-catalog.js';
import { filterProblem, type EventFilter } from '../domain/event-filter.js';
import { AppError, notFound, validationFailed } from '../errors.js';
import { newId } from '../ids.js';
import type { Tx } from '../storage/db.js';
import type { EndpointsTable } from '../storage/schema.js';
import { newWebhookSecret, validateAuthConfig, type AuthType, type EndpointAuth } from './signature.js';
import { parseHostToIp, SsrfGuard } from './ssrf-guard.js';
import { getDelivery, type DeliveryView } from './endpoint-deliveries.js';
import { endUnsettled } from '../queue/requeue.js';
import { credentialsRequired, sameOrigin } from './credential-origin.js';
import { storedTransform, validateTransform, type EndpointTransform } from './transform.js';
import { rotateSigningSecret } from './secret-rotation.js';
import { BrokerUrlError, isBrokerUrl, parseBrokerUrl, UNKNOWN_SCHEME, withoutPassword } from './brokers/destination.js';
import { checkOrdering, checkRateLimit, type EndpointOrdering } from './endpoint-pacing.js';
import { reorderUnsettled } from '../queue/ordering.js';

/**
 * Company webhook endpoints: settings, the signing secret and its rotation, the Test button, and the
 * health rules the delivery worker applies after each attempt. Secrets and credentials are sealed with `ctx.box`
 * and never leave this module except through `revealSecret`/`regenerateSecret` and the endpoint target.
 */

export type EndpointRow = Selectable<EndpointsTable>;

export const AUTH_TYPES: readonly AuthType[] = ['none', 'bearer', 'api_key', 'custom_header'];
export const MAX_URL_LENGTH = 2048;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const MIN_TIMEOUT_MS = 1_000;
export const MAX_TIMEOUT_MS = 30_000;

/**
 * Bounds of an endpoint's own retry schedule (delays in seconds between attempts). A delivery settles within a week
 * whatever the schedule, so retention can remove it and a tenant cannot keep work queued indefinitely.
 */
export const RETRY_SCHEDULE_MAX_DELAYS = 20;
export const RETRY_DELAY_MIN_S = 1;
export const RETRY_DELAY_MAX_S = 24 * 3600;
export const RETRY_SCHEDULE_MAX_TOTAL_S = 7 * 24 * 3600;

/** Why an endpoint stopped receiving: set by the user, or by the worker's health rules. */
export type DisableReason = 'manual' | 'gone' | 'failing_5_days';
export const FAILING_DISABLE_AFTER_MS = 5 * 24 * 3600 * 1000;

interface AuthInput {
  type: AuthType;
  token?: string | null;
  header_name?: string | null;
}

export interface EndpointInput {
  url: string;
  description?: string | null;
  enabled?: boolean;
  events: string[];
  auth?: AuthInput | null;
  timeout_ms?: number;
  /** Which events make a delivery, on their data (domain/event-filter.ts); null: every subscribed event. */
  filter?: EventFilter | null;
  /** How the body is reshaped (transform.ts); null: the event's body as stored. */
  transform?: EndpointTransform | null;
  /** Delays in seconds between attempts; null: the server's schedule. */
  retry_schedule?: number[] | null;
  /** 'per_complaint': one complaint's events in commit order, one at a time. */
  ordering?: EndpointOrdering;
  /** Attempts a second at most, across every worker; null: no limit. */
  rate_limit_per_s?: number | null;
}

export type EndpointPatch = Partial<EndpointInput>;

/** What list and get show: never the secret, never a credential. */
export interface EndpointView {
  id: string;
  url: string;
  description: string | null;
  enabled: boolean;
  events: string[];
  auth: { type: AuthType; header_name: string | null };
  has_token: boolean;
  /** A broker URL's password is stored sealed; the URL shown has none. */
  has_url_password: boolean;
  timeout_ms: number;
  filter: EventFilter | null;
  transform: EndpointTransform | null;
  retry_schedule: number[] | null;
  ordering: EndpointOrdering;
  rate_limit_per_s: number | null;
  /** The receiver answered 429 with Retry-After: its deliveries wait until then. */
  held_until: string | null;
  disabled_reason: string | null;
  disabled_at: string | null;
  failing_since: string | null;
  /** While set, deliveries are also signed with the previous secret (a rotation's grace period). */
  previous_secret_expires_at: string | null;
  /**
   * A development endpoint of `escalatr listen`: its deliveries go over the listener's connection to the URL on the
   * developer's machine, and it is removed when the listener stops (or has been away for an hour).
   */
  development: boolean;
  created_at: string;
  updated_at: string;
}

/** How strict URL checks are; the route passes the operator's settings. */
export interface UrlPolicy {
  allowHttp: boolean;
  /** ESCALATR_WEBHOOK_ALLOW_CIDRS: literal IPs inside these ranges may be saved despite the SSRF policy. */
  allowCidrs?: readonly string[];
}

interface SealedAuth {
  token: string | null;
  header_name: string | null;
}

function openAuth(ctx: DomainContext, row: Pick<EndpointRow, 'auth_type' | 'auth_enc'>): EndpointAuth {
  if (row.auth_type === 'none' || !row.auth_enc) return { type: row.auth_type };
  const sealed = ctx.box.openJson<SealedAuth>(row.auth_enc);
  return { type: row.auth_type, token: sealed.token, header_name: sealed.header_name };
}

/** The header name is not a secret, but it lives sealed beside the token; opening it for the view is cheap. */
function viewOf(ctx: DomainContext, row: EndpointRow, now: number): EndpointView {
  const auth = openAuth(ctx, row);
  const graceOpen =
    row.prev_secret_enc !== null && row.prev_secret_expires_at !== null && row.prev_secret_expires_at > now;
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    enabled: row.enabled === 1,
    events: JSON.parse(row.events) as string[],
    auth: { type: row.auth_type, header_name: auth.type === 'custom_header' ? (auth.header_name ?? null) : null },
    has_token: auth.type !== 'none' && !!auth.token,
    has_url_password: row.url_password_enc !== null,
    timeout_ms: row.timeout_ms,
    filter: row.filter === null ? null : (JSON.parse(row.filter) as EventFilter),
    transform: storedTransform(row.transform),
    retry_schedule: row.retry_schedule === null ? null : (JSON.parse(row.retry_schedule) as number[]),
    ordering: row.ordering,
    rate_limit_per_s: row.rate_limit_per_s,
    held_until: row.held_until !== null && row.held_until > now ? iso(row.held_until) : null,
    disabled_reason: row.disabled_reason,
    disabled_at: isoOrNull(row.disabled_at),
    failing_since: isoOrNull(row.failing_since),
    previous_secret_expires_at: graceOpen ? iso(row.prev_secret_expires_at!) : null,
    development: row.listener_seen_at !== null,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Input rules

/**
 * Checks a webhook URL as the dashboard's form does, with exact messages, and returns its canonical form. Literal IPs
 * are judged by the SSRF policy here for an early, clear answer; host names are judged at connect time on every
 * attempt (DNS can change).
 */
export function validateWebhookUrl(raw: string, policy: UrlPolicy): string {
  const fail = (message: string) => new AppError('invalid_url', message);
  if (typeof raw !== 'string' || raw.trim() === '') throw fail('URL must not be empty');
  if (raw.length > MAX_URL_LENGTH) throw fail(`URL must be at most ${MAX_URL_LENGTH} characters`);
  // The URL parser silently strips surrounding spaces, tabs and newlines; what is saved must be what is sent.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
  if (/[\s\x00-\x1f\x7f]/.test(raw)) throw fail('URL must not contain spaces or control characters');
  const https = /^https:\/\//i.test(raw);
  const http = /^http:\/\//i.test(raw);
  if (!https && !(http && policy.allowHttp)) throw fail('URL must start with https://');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw fail('URL is not a valid URL');
  }
  if (!url.hostname) throw fail('URL must name a host');
  if (url.username || url.password || /^https?:\/\/[^/?#]*@/i.test(raw)) {
    throw fail('URL must not contain credentials (user:password@); use the auth settings instead');
  }
  if (raw.includes('#')) throw fail('URL must not contain a fragment (#…)');
  const ip = parseHostToIp(url.hostname);
  if (ip) {
    const verdict = new SsrfGuard(policy.allowCidrs ?? []).check(ip);
    if (!verdict.allowed)
      throw fail(
        `URL points to a ${verdict.reason?.replace('_', '-') ?? 'blocked'} address, which webhooks may not reach`,
      );
  }
  // Stored, shown and sent in one canonical form: lowercase scheme and host, an IDN host in punycode, no default
  // port. Two spellings of one address are then one stored value, and the list shows what a request goes to.
  const canonical = url.href;
  if (canonical.length > MAX_URL_LENGTH)
    throw fail(`URL must be at most ${MAX_URL_LENGTH} characters in its canonical form`);
  return canonical;
}

/**
 * An endpoint's URL as saved: an http(s) URL as validateWebhookUrl checks it, or a broker URL (amqp(s)://, nats://,
 * tls://, redis(s)://, mqtt(s)://) with its password taken out, to be sealed on its own. A literal IP is judged by
 * the address guard here too; a host name at each connect.
 */
function validateEndpointUrl(raw: string, policy: UrlPolicy): { url: string; password: string | null } {
  // Another scheme (natss://, ftp://) is most likely a broker URL mistyped: name the ones there are.
  if (typeof raw === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && !/^https?:/i.test(raw) && !isBrokerUrl(raw))
    throw new AppError('invalid_url', UNKNOWN_SCHEME);
  if (typeof raw !== 'string' || !isBrokerUrl(raw)) return { url: validateWebhookUrl(raw, policy), password: null };
  return validateBrokerUrl(raw, policy);
}

/**
 * A broker URL as saved (by endpoints and Shield broker destinations): parsed by the broker's rules, a literal IP
 * judged by the address guard, the password taken out to be sealed on its own. Throws 400 `invalid_url`.
 */
export function validateBrokerUrl(raw: string, policy: UrlPolicy): { url: string; password: string | null } {
  const fail = (message: string) => new AppError('invalid_url', message);
  if (raw.length > MAX_URL_LENGTH) throw fail(`URL must be at most ${MAX_URL_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
  if (/[\s\x00-\x1f\x7f]/.test(raw)) throw fail('URL must not contain spaces or control characters');
  let password: string | null;
  let host: string;
  try {
    ({ password, host } = parseBrokerUrl(raw));
  } catch (err) {
    if (err instanceof BrokerUrlError) throw fail(err.message);
    throw err;
  }
  const ip = parseHostToIp(host);
  if (ip) {
    const verdict = new SsrfGuard(policy.allowCidrs ?? []).check(ip);
    if (!verdict.allowed)
      throw fail(
        `URL points to a ${verdict.reason?.replace('_', '-') ?? 'blocked'} address, which webhooks may not reach`,
      );
  }
  const url = withoutPassword(raw);
  if (url.length > MAX_URL_LENGTH) throw fail(`URL must be at most ${MAX_URL_LENGTH} characters in its canonical form`);
  return { url, password };
}

/**
 * The local URL a listener forwards to, kept as the development endpoint's URL so the dashboard shows where its
 * deliveries go. This server never connects to it (the listener does, on the developer's machine), so the address
 * guard does not apply; it must still be a plain http(s) URL.
 */
function validateListenerUrl(raw: string): string {
  const fail = (message: string) => new AppError('invalid_url', message);
  if (typeof raw !== 'string' || !/^https?:\/\//i.test(raw))
    throw fail('forward_to must be an http:// or https:// URL');
  if (raw.length > MAX_URL_LENGTH) throw fail(`URL must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw fail('forward_to is not a valid URL');
  }
  if (url.username || url.password) throw fail('forward_to must not contain credentials (user:password@)');
  return url.href;
}

/** Broker endpoints authenticate with the URL's user and password; the HTTP auth settings would never be sent. */
function checkBrokerAuth(url: string, authType: AuthType): void {
  if (isBrokerUrl(url) && authType !== 'none')
    throw validationFailed(
      "auth applies to https:// endpoints; a broker's user and password go in the URL (set auth to none)",
      { field: 'auth.type' },
    );
}

/** Subscribed events: known names, or ["*"] for all; duplicates collapse, order is kept. */
function normaliseEvents(events: unknown): string[] {
  if (!Array.isArray(events) || events.length === 0)
    throw validationFailed('events must list at least one event name, or ["*"]', { field: 'events' });
  const names: string[] = [];
  for (const name of events) {
    if (typeof name !== 'string') throw validationFailed('events must be strings', { field: 'events' });
    if (name !== '*' && !(EVENT_NAMES as readonly string[]).includes(name)) {
      throw validationFailed(
        `events: unknown event "${name.slice(0, 100)}"; known events are ${EVENT_NAMES.join(', ')}`,
        { field: 'events' },
      );
    }
    if (!names.includes(name)) names.push(name);
  }
  // "*" stands for every complaint event; operational events it does not include stay named beside it.
  return names.includes('*') ? ['*', ...names.filter(isOperationalEvent)] : names;
}

function checkFilter(filter: unknown): string | null {
  if (filter === null || filter === undefined) return null;
  const problem = filterProblem(filter);
  if (problem) throw new AppError('invalid_filter', `filter: ${problem}`, { field: 'filter' });
  return JSON.stringify(filter);
}

function checkTransform(transform: unknown, events: readonly string[]): string | null {
  if (transform === null || transform === undefined) return null;
  return JSON.stringify(validateTransform(transform, events));
}

function checkRetrySchedule(schedule: unknown): string | null {
  if (schedule === null || schedule === undefined) return null;
  const problem = (text: string) =>
    new AppError('invalid_retry_schedule', `retry_schedule: ${text}`, { field: 'retry_schedule' });
  if (!Array.isArray(schedule) || schedule.length === 0 || schedule.length > RETRY_SCHEDULE_MAX_DELAYS)
    throw problem(
      `must list 1 to ${RETRY_SCHEDULE_MAX_DELAYS} delays in seconds (or be null for the server's schedule)`,
    );
  for (const delay of schedule) {
    if (!Number.isInteger(delay) || delay < RETRY_DELAY_MIN_S || delay > RETRY_DELAY_MAX_S)
      throw problem(`each delay is a whole number of seconds from ${RETRY_DELAY_MIN_S} to ${RETRY_DELAY_MAX_S}`);
  }
  const total = (schedule as number[]).reduce((sum, delay) => sum + delay, 0);
  if (total > RETRY_SCHEDULE_MAX_TOTAL_S)
    throw problem(`the delays add up to at most ${RETRY_SCHEDULE_MAX_TOTAL_S} seconds (7 days)`);
  return JSON.stringify(schedule);
}

/** The endpoint's retry schedule in milliseconds, or undefined where the server's schedule applies. */
export function endpointRetryScheduleMs(row: Pick<EndpointRow, 'retry_schedule'>): number[] | undefined {
  return row.retry_schedule === null ? undefined : (JSON.parse(row.retry_schedule) as number[]).map((s) => s * 1000);
}

function checkTimeout(timeoutMs: number): number {
  if (!Number.isInteger(timeoutMs) || timeoutMs < MIN_TIMEOUT_MS || timeoutMs > MAX_TIMEOUT_MS) {
    throw validationFailed(`timeout_ms must be a whole number from ${MIN_TIMEOUT_MS} to ${MAX_TIMEOUT_MS}`, {
      field: 'timeout_ms',
    });
  }
  return timeoutMs;
}

function checkDescription(description: string | null | undefined): string | null {
  if (description === undefined || description === null) return null;
  const trimmed = description.trim();
  if (trimmed.length > 500)
    throw validationFailed('description must be at most 500 characters', { field: 'description' });
  return trimmed || null;
}

/**
 * Seals the auth settings. `keepToken` is the stored token, reused when an edit changes the type or header name
 * without retyping the credential (the dashboard never receives it, so cannot send it back).
 */
function sealAuth(
  ctx: DomainContext,
  auth: AuthInput | null | undefined,
  keepToken: string | null,
): { auth_type: AuthType; auth_enc: string | null } {
  if (!auth || auth.type === 'none') {
    if (auth && !AUTH_TYPES.includes(auth.type))
      throw validationFailed('auth.type must be one of none, bearer, api_key, custom_header', { field: 'auth.type' });
    return { auth_type: 'none', auth_enc: null };
  }
  if (!AUTH_TYPES.includes(auth.type))
    throw validationFailed('auth.type must be one of none, bearer, api_key, custom_header', { field: 'auth.type' });
  const token = auth.token ?? keepToken;
  if (!token) throw validationFailed(`auth.token is required for auth type ${auth.type}`, { field: 'auth.token' });
  const header_name = auth.type === 'custom_header' ? (auth.header_name ?? '').trim() : null;
  if (auth.type === 'custom_header' && !header_name)
    throw validationFailed('auth.header_name is required for auth type custom_header', { field: 'auth.header_name' });
  const problem = validateAuthConfig({ type: auth.type, token, header_name });
  // signature.ts words its messages without the credential, so they are safe to return.
  if (problem)
    throw validationFailed(`auth: ${problem}`, {
      field: problem.startsWith('header') || problem.includes('reserved') ? 'auth.header_name' : 'auth.token',
    });
  return { auth_type: auth.type, auth_enc: ctx.box.sealJson({ token, header_name } satisfies SealedAuth) };
}

const defaultPolicy = (ctx: DomainContext): UrlPolicy => ({ allowHttp: ctx.config.allowHttpWebhooks });

// ---------------------------------------------------------------------------------------------------------------
// Reads

async function findRow(
  db: Tx | DomainContext['store']['db'],
  companyId: string,
  id: string,
): Promise<EndpointRow | undefined> {
  return db
    .selectFrom('endpoints')
    .selectAll()
    .where('id', '=', id)
    .where('company_id', '=', companyId)
    .executeTakeFirst();
}

async function getRow(db: Tx | DomainContext['store']['db'], companyId: string, id: string): Promise<EndpointRow> {
  const row = await findRow(db, companyId, id);
  if (!row) throw notFound('webhook endpoint');
  return row;
}

export async function getEndpoint(ctx: DomainContext, companyId: string, id: string): Promise<EndpointView> {
  return viewOf(ctx, await getRow(ctx.store.db, companyId, id), ctx.clock.now());
}

export async function listEndpoints(
  ctx: DomainContext,
  companyId: string,
  page: { page: number; limit: number },
): Promise<{ items: EndpointView[]; total: number }> {
  const db = ctx.store.db;
  const [rows, count] = await Promise.all([
    db
      .selectFrom('endpoints')
      .selectAll()
      .where('company_id', '=', companyId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset((page.page - 1) * page.limit)
      .execute(),
    db
      .selectFrom('endpoints')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('company_id', '=', companyId)
      .executeTakeFirstOrThrow(),
  ]);
  const now = ctx.clock.now();
  return { items: rows.map((r) => viewOf(ctx, r, now)), total: Number(count.n) };
}

// ---------------------------------------------------------------------------------------------------------------
// Writes

/** Creates an endpoint; the answer is the only one besides /secret that carries the secret. */
export async function createEndpoint(
  ctx: DomainContext,
  companyId: string,
  input: EndpointInput,
  policy: UrlPolicy = defaultPolicy(ctx),
  kind: 'endpoint' | 'listener' = 'endpoint',
): Promise<EndpointView & { secret: string }> {
  const { url, password } =
    kind === 'listener'
      ? { url: validateListenerUrl(input.url), password: null }
      : validateEndpointUrl(input.url, policy);
  const events = normaliseEvents(input.events);
  const timeout = checkTimeout(input.timeout_ms ?? DEFAULT_TIMEOUT_MS);
  const description = checkDescription(input.description);
  const auth = sealAuth(ctx, input.auth, null);
  checkBrokerAuth(url, auth.auth_type);
  const filter = checkFilter(input.filter);
  const transform = checkTransform(input.transform, events);
  const retrySchedule = checkRetrySchedule(input.retry_schedule);
  const ordering = checkOrdering(input.ordering ?? 'none');
  const rateLimit = checkRateLimit(input.rate_limit_per_s ?? null);
  const secret = newWebhookSecret();
  return transact(ctx, async ({ tx, now }) => {
    await lockCompanyRow(ctx, tx, companyId);
    const count = await tx
      .selectFrom('endpoints')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('company_id', '=', companyId)
      .executeTakeFirstOrThrow();
    const limit = ctx.config.companyLimits.endpoints;
    if (Number(count.n) >= limit) {
      throw new AppError(
        'endpoint_limit_reached',
        `A company can have at most ${limit} webhook endpoints; delete one first`,
        { limit },
      );
    }
    const enabled = input.enabled ?? true;
    const row: EndpointRow = {
      id: newId('ep'),
      company_id: companyId,
      url,
      description,
      enabled: enabled ? 1 : 0,
      events: JSON.stringify(events),
      secret_enc: ctx.box.seal(secret),
      prev_secret_enc: null,
      prev_secret_expires_at: null,
      ...auth,
      timeout_ms: timeout,
      filter,
      transform,
      retry_schedule: retrySchedule,
      ordering,
      rate_limit_per_s: rateLimit,
      rate_window_start: null,
      rate_window_used: 0,
      held_until: null,
      url_password_enc: password === null ? null : ctx.box.seal(password),
      listener_seen_at: kind === 'listener' ? now : null,
      disabled_reason: enabled ? null : 'manual',
      disabled_at: enabled ? null : now,
      failing_since: null,
      ops_notice: null,
      created_at: now,
      updated_at: now,
    };
    await tx.insertInto('endpoints').values(row).execute();
    return { ...viewOf(ctx, row, now), secret };
  });
}

/** Applies any subset of the create fields. Re-enabling forgives the past: the health state starts over. */
export async function updateEndpoint(
  ctx: DomainContext,
  companyId: string,
  id: string,
  patch: EndpointPatch,
  policy: UrlPolicy = defaultPolicy(ctx),
): Promise<EndpointView> {
  return transact(ctx, async ({ tx, now }) => {
    const row = await getRow(tx, companyId, id);
    const set: Partial<EndpointRow> = { updated_at: now };
    if (patch.url !== undefined) {
      const { url, password } = validateEndpointUrl(patch.url, policy);
      set.url = url;
      // A broker password typed again replaces the stored one; left out, the stored one is kept for the same
      // destination only, so an edit cannot send it to another host.
      if (password !== null) set.url_password_enc = ctx.box.seal(password);
      else if (!isBrokerUrl(url) || !sameOrigin(row.url, url)) set.url_password_enc = null;
      const stored = openAuth(ctx, row);
      // A new origin does not inherit the stored credential: the edit must carry it again, or drop it.
      const resent = patch.auth === null || patch.auth?.type === 'none' || !!patch.auth?.token;
      if (stored.type !== 'none' && stored.token && !resent && !sameOrigin(row.url, set.url))
        throw credentialsRequired('auth.token');
    }
    if (patch.events !== undefined) set.events = JSON.stringify(normaliseEvents(patch.events));
    if (patch.filter !== undefined) set.filter = checkFilter(patch.filter);
    // A preset limits the subscription, so the pair is checked whenever either changes.
    if (patch.transform !== undefined || (patch.events !== undefined && row.transform !== null)) {
      const events = JSON.parse(set.events ?? row.events) as string[];
      set.transform = checkTransform(
        patch.transform === undefined ? storedTransform(row.transform) : patch.transform,
        events,
      );
    }
    if (patch.timeout_ms !== undefined) set.timeout_ms = checkTimeout(patch.timeout_ms);
    if (patch.retry_schedule !== undefined) set.retry_schedule = checkRetrySchedule(patch.retry_schedule);
    if (patch.ordering !== undefined) set.ordering = checkOrdering(patch.ordering);
    if (patch.rate_limit_per_s !== undefined) set.rate_limit_per_s = checkRateLimit(patch.rate_limit_per_s);
    if (patch.description !== undefined) set.description = checkDescription(patch.description);
    if (patch.auth !== undefined) {
      const current = openAuth(ctx, row);
      Object.assign(set, sealAuth(ctx, patch.auth, current.token ?? null));
    }
    checkBrokerAuth(set.url ?? row.url, set.auth_type ?? row.auth_type);
    if (patch.enabled === true && row.enabled === 0) {
      Object.assign(set, { enabled: 1, disabled_reason: null, disabled_at: null, failing_since: null });
    } else if (patch.enabled === false && row.enabled === 1) {
      Object.assign(set, { enabled: 0, disabled_reason: 'manual', disabled_at: now });
    }
    await tx.updateTable('endpoints').set(set).where('id', '=', id).where('company_id', '=', companyId).execute();
    // Deliveries still to be sent follow the new ordering too, so turning it on orders the backlog as well.
    if (set.ordering !== undefined && set.ordering !== row.ordering)
      await reorderUnsettled(tx, companyId, id, set.ordering === 'per_complaint');
    return viewOf(ctx, { ...row, ...set }, now);
  });
}

/**
 * Deletes an endpoint. Its deliveries that were still due end as `dead` ("endpoint deleted") so no worker picks
 * them up; every delivery and attempt stays for the history.
 */
export async function deleteEndpoint(
  ctx: DomainContext,
  companyId: string,
  id: string,
): Promise<{ id: string; deleted: true; ended_deliveries: number }> {
  return transact(ctx, async ({ tx, now }) => {
    await getRow(tx, companyId, id);
    const ended = await endUnsettled(ctx.store, tx, now, companyId, id, 'endpoint deleted');
    await tx.deleteFrom('endpoints').where('id', '=', id).where('company_id', '=', companyId).execute();
    await tx.deleteFrom('endpoint_concurrency').where('endpoint_id', '=', id).execute();
    return { id, deleted: true as const, ended_deliveries: ended };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Secret

export async function revealSecret(ctx: DomainContext, companyId: string, id: string): Promise<{ secret: string }> {
  const row = await getRow(ctx.store.db, companyId, id);
  return { secret: ctx.box.open(row.secret_enc) };
}

/** A new signing secret (secret-rotation.ts): at once, or with the old one still signing for a grace period. */
export async function regenerateSecret(
  ctx: DomainContext,
  companyId: string,
  id: string,
  gracePeriodS = 0,
): Promise<{ secret: string; previous_secret_expires_at: string | null }> {
  return transact(ctx, async ({ tx, now }) => {
    const row = await getRow(tx, companyId, id);
    const rotated = rotateSigningSecret(ctx.box, row.secret_enc, gracePeriodS, now);
    await tx
      .updateTable('endpoints')
      .set({ ...rotated.sealed, updated_at: now })
      .where('id', '=', id)
      .where('company_id', '=', companyId)
      .execute();
    return { secret: rotated.secret, previous_secret_expires_at: isoOrNull(rotated.previousExpiresAt) };
  });
}

/** A broker endpoint's URL password opened, for the endpoint target only. */
export function brokerPassword(ctx: DomainContext, row: Pick<EndpointRow, 'url_password_enc'>): string | null {
  return row.url_password_enc === null ? null : ctx.box.open(row.url_password_enc);
}

/** The endpoint's auth settings with the credential opened, for the endpoint target only. */
export function endpointAuth(ctx: DomainContext, row: Pick<EndpointRow, 'auth_type' | 'auth_enc'>): EndpointAuth {
  return openAuth(ctx, row);
}

// ---------------------------------------------------------------------------------------------------------------
// Test

/**
 * The fields every complaint event carries, with sample values, so a receiver's routing code runs unchanged on a
 * test. The id has the company's real form with sequence 00000, which no complaint is ever given; `sample: true`
 * tells a receiver to take no action on it.
 */
export function sampleComplaintFields(companyCode: string, now: number) {
  return {
    ...eventBase({
      escalatr_id: formatEscalatrId(companyCode, now, 0),
      status: 'Open',
      level: 1,
      complaint_category: 'Sample',
      priority: 'medium',
    }),
    sample: true,
  };
}

/** What a Test press sends when no message is given. */
export const DEFAULT_TEST_MESSAGE = 'This is a test event from Escalatr.';

async function companyCode(tx: Tx, companyId: string): Promise<string> {
  const company = await tx.selectFrom('companies').select('code').where('id', '=', companyId).executeTakeFirstOrThrow();
  return company.code;
}

/** The Test button: a `webhook.test` event delivered to this endpoint only, whatever it subscribes to. */
export async function sendTestEvent(
  ctx: DomainContext,
  companyId: string,
  id: string,
  message?: string | null,
): Promise<DeliveryView> {
  const text = message?.trim() ? message.trim() : DEFAULT_TEST_MESSAGE;
  if (text.length > 1000) throw validationFailed('message must be at most 1000 characters', { field: 'message' });
  const deliveryId = await transact(ctx, async (work) => {
    const row = await getRow(work.tx, companyId, id);
    if (row.enabled !== 1) throw new AppError('conflict', 'This endpoint is disabled; enable it before sending a test');
    const emitted = await emitEvent(ctx, work, {
      companyId,
      name: 'webhook.test',
      data: {
        ...sampleComplaintFields(await companyCode(work.tx, companyId), work.now),
        message: text,
        endpoint_id: id,
      },
      onlyEndpointId: id,
    });
    return emitted.deliveryIds[0];
  });
  return getDelivery(ctx, companyId, deliveryId);
}

// ---------------------------------------------------------------------------------------------------------------
// Health: what the worker applies after recording an attempt to an endpoint

export interface AttemptResultForHealth {
  ok: boolean;
  /** The receiver answered 410 Gone. */
  gone?: boolean;
}

/**
 * The auto-disable rule, as a pure function. Any success clears `failing_since`. A 410 Gone disables at once.
 * Otherwise a failure starts (or continues) the failing streak, and a streak of 5 days disables.
 */
export function endpointHealthAfterAttempt(
  state: { failing_since: number | null },
  outcome: AttemptResultForHealth,
  now: number,
): { failing_since: number | null; disable?: Exclude<DisableReason, 'manual'> } {
  if (outcome.ok) return { failing_since: null };
  const failingSince = state.failing_since ?? now;
  if (outcome.gone) return { failing_since: failingSince, disable: 'gone' };
  if (now - failingSince >= FAILING_DISABLE_AFTER_MS) return { failing_since: failingSince, disable: 'failing_5_days' };
  return { failing_since: failingSince };
}

/** Turns an endpoint off for a reason shown in the dashboard. Returns false if it was already off (or is gone). */
export async function disableEndpoint(
  _ctx: DomainContext,
  tx: Tx,
  endpointId: string,
  reason: DisableReason,
  now: number,
): Promise<boolean> {
  const result = await tx
    .updateTable('endpoints')
    .set({ enabled: 0, disabled_reason: reason, disabled_at: now, updated_at: now })
    .where('id', '=', endpointId)
    .where('enabled', '=', 1)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Reads the endpoint's failing streak, applies `endpointHealthAfterAttempt` and writes the result, in the worker's
 * result transaction. Returns the reason when this attempt disabled the endpoint.
 */
export async function applyAttemptToEndpointHealth(
  ctx: DomainContext,
  tx: Tx,
  endpointId: string,
  outcome: AttemptResultForHealth,
  now: number,
): Promise<Exclude<DisableReason, 'manual'> | null> {
  const row = await tx
    .selectFrom('endpoints')
    .select(['failing_since', 'enabled'])
    .where('id', '=', endpointId)
    .executeTakeFirst();
  if (!row) return null;
  const next = endpointHealthAfterAttempt(row, outcome, now);
  if (next.failing_since !== row.failing_since) {
    await tx.updateTable('endpoints').set({ failing_since: next.failing_since }).where('id', '=', endpointId).execute();
  }
  if (next.disable && row.enabled === 1 && (await disableEndpoint(ctx, tx, endpointId, next.disable, now)))
    return next.disable;
  return null;
}
