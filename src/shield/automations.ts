import { lockCompanyRow } from '../domain/companies.js';
import { SENSITIVITIES, type Sensitivity } from './scoring/model.js';
import type { Selectable } from 'kysely';
import { iso } from '../clock.js';
import { transact, type DomainContext } from '../domain/context.js';
import { AppError, notFound, validationFailed } from '../errors.js';
import { newId } from '../ids.js';
import type { Db, Tx } from '../storage/db.js';
import type { AutomationsTable } from '../storage/schema.js';
import { validateAuthConfig, type AuthType, type EndpointAuth } from '../webhooks/signature.js';
// A Shield webhook's timeout bounds and auth types are an endpoint's.
import {
  AUTH_TYPES,
  MAX_TIMEOUT_MS,
  MIN_TIMEOUT_MS,
  validateBrokerUrl,
  validateWebhookUrl,
} from '../webhooks/endpoints.js';
import { BROKER_SCHEMES_TEXT, isBrokerUrl } from '../webhooks/brokers/destination.js';
import { credentialsRequired, sameOrigin } from '../webhooks/credential-origin.js';
import {
  DESTINATION_TYPES,
  EMAIL_TIMEOUT_MS,
  SLACK_TIMEOUT_MS,
  WEBHOOK_TIMEOUT_DEFAULT_MS,
  openDestination,
  type DestinationConfig,
  type DestinationRow,
  type DestinationType,
} from './destinations/config.js';
import { newDestinationSecret } from './destinations/secret.js';
import { SHIELD_LEVELS, isLevel, levelRank, type Level } from './levels.js';

export const MAX_DESTINATIONS = 10;
const AUTOMATION_FIELDS = ['name', 'active', 'filter', 'sensitivity', 'destinations'];
export const MAX_FILTER_TERMS = 50;
export const MAX_EMAIL_RECIPIENTS = 20;
const EMAIL = /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\]+\.[^\s@<>()[\],;:"\\]+$/;

export interface AutomationFilter {
  min_level: Level;
  sources?: string[];
  keywords?: string[];
}

type AutomationRow = Selectable<AutomationsTable>;

/** A validated destination ready to store: `keepId` when it updates an existing one of the same automation. */
interface DestinationDraft {
  keepId: string | null;
  spec: DestinationConfig;
  timeoutMs: number;
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const invalid = (field: string, message: string) => validationFailed(`${field}: ${message}`, { field });

function checkName(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid('name', 'must be a non-blank string');
  if (value.trim().length > 200) throw invalid('name', 'must be at most 200 characters');
  return value.trim();
}

function checkSensitivity(value: unknown): Sensitivity {
  if (typeof value !== 'string' || !(SENSITIVITIES as readonly string[]).includes(value))
    throw invalid('sensitivity', `must be one of ${SENSITIVITIES.join(', ')}`);
  return value as Sensitivity;
}

function checkActive(value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid('active', 'must be true or false');
  return value;
}

function checkTerms(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid(field, 'must be an array of strings');
  if (value.length > MAX_FILTER_TERMS) throw invalid(field, `may hold at most ${MAX_FILTER_TERMS} entries`);
  const out: string[] = [];
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.trim() === '') throw invalid(`${field}[${i}]`, 'must be a non-blank string');
    if (item.trim().length > 100) throw invalid(`${field}[${i}]`, 'must be at most 100 characters');
    if (!out.some((o) => o.toLowerCase() === item.trim().toLowerCase())) out.push(item.trim());
  });
  // An empty list filters nothing out, exactly like an absent one; keep one representation.
  return out.length ? out : undefined;
}

function checkFilter(value: unknown): AutomationFilter {
  if (!isObject(value)) throw invalid('filter', 'must be an object with min_level and optional sources and keywords');
  const extra = Object.keys(value).find((k) => !['min_level', 'sources', 'keywords'].includes(k));
  if (extra) throw invalid(`filter.${extra}`, 'is not a filter field (min_level, sources, keywords)');
  if (!isLevel(value.min_level)) throw invalid('filter.min_level', `must be one of ${SHIELD_LEVELS.join(', ')}`);
  const filter: AutomationFilter = { min_level: value.min_level };
  const sources = checkTerms(value.sources, 'filter.sources');
  const keywords = checkTerms(value.keywords, 'filter.keywords');
  if (sources) filter.sources = sources;
  if (keywords) filter.keywords = keywords;
  return filter;
}

/**
 * An outbound URL, by the same rules as webhook endpoints (https unless the operator allows http, no credentials,
 * literal private addresses refused at save), with the field named in the message.
 */
function checkOutboundUrl(ctx: DomainContext, value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(field, 'is required');
  try {
    return validateWebhookUrl(value, {
      allowHttp: ctx.config.allowHttpWebhooks,
      allowCidrs: ctx.config.webhookAllowCidrs,
    });
  } catch (err) {
    if (err instanceof AppError) throw new AppError('invalid_url', `${field}: ${err.message}`, { field });
    throw err;
  }
}

/**
 * A broker destination's URL, by the rules of broker endpoints (the scheme picks the broker, a literal private
 * address refused at save unless allow-listed), its password split off to be sealed with the rest. A URL without a
 * password keeps the stored one only for the same scheme, host and port, so an edit cannot carry it elsewhere.
 */
function checkBrokerUrl(
  ctx: DomainContext,
  value: unknown,
  field: string,
  previous: { url: string; password: string | null } | null,
): { url: string; password: string | null } {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(field, 'is required');
  if (!isBrokerUrl(value))
    throw new AppError('invalid_url', `${field}: must start with ${BROKER_SCHEMES_TEXT}`, { field });
  let checked: { url: string; password: string | null };
  try {
    checked = validateBrokerUrl(value, { allowHttp: false, allowCidrs: ctx.config.webhookAllowCidrs });
  } catch (err) {
    if (err instanceof AppError) throw new AppError('invalid_url', `${field}: ${err.message}`, { field });
    throw err;
  }
  if (checked.password === null && previous && sameOrigin(previous.url, checked.url))
    return { url: checked.url, password: previous.password };
  return checked;
}

function checkTimeout(value: unknown, field: string): number {
  if (value === undefined || value === null) return WEBHOOK_TIMEOUT_DEFAULT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_TIMEOUT_MS || value > MAX_TIMEOUT_MS) {
    throw invalid(field, `must be a whole number of milliseconds from ${MIN_TIMEOUT_MS} to ${MAX_TIMEOUT_MS}`);
  }
  return value;
}

/** Auth of a webhook destination; a credential left out keeps the one already stored (the dashboard never sees it). */
function checkAuth(value: unknown, field: string, previous: EndpointAuth | null): EndpointAuth {
  if (value === undefined || value === null) return previous ?? { type: 'none' };
  if (!isObject(value)) throw invalid(field, 'must be an object { type, token?, header_name? }');
  const extra = Object.keys(value).find((k) => !['type', 'token', 'header_name'].includes(k));
  if (extra) throw invalid(`${field}.${extra}`, 'is not an auth field (type, token, header_name)');
  const type = value.type as AuthType;
  if (!AUTH_TYPES.includes(type)) throw invalid(`${field}.type`, `must be one of ${AUTH_TYPES.join(', ')}`);
  if (type === 'none') {
    if (value.token !== undefined && value.token !== null)
      throw invalid(`${field}.token`, 'is only used with bearer, api_key or custom_header');
    return { type: 'none' };
  }
  for (const key of ['token', 'header_name'] as const) {
    if (value[key] !== undefined && value[key] !== null && typeof value[key] !== 'string')
      throw invalid(`${field}.${key}`, 'must be a string');
  }
  if (type !== 'custom_header' && value.header_name != null)
    throw invalid(`${field}.header_name`, 'is only used with custom_header');
  const same = previous && previous.type === type ? previous : null;
  const auth: EndpointAuth = { type, token: (value.token as string | undefined) ?? same?.token ?? null };
  if (type === 'custom_header')
    auth.header_name = (value.header_name as string | undefined) ?? same?.header_name ?? null;
  if (!auth.token) throw invalid(`${field}.token`, `is required for ${type}`);
  const problem = validateAuthConfig(auth);
  if (problem) throw invalid(problem.startsWith('credential') ? `${field}.token` : `${field}.header_name`, problem);
  return auth;
}

function checkRecipients(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid(field, 'must list 1 to 20 email addresses');
  if (value.length > MAX_EMAIL_RECIPIENTS) throw invalid(field, `may list at most ${MAX_EMAIL_RECIPIENTS} addresses`);
  const out: string[] = [];
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.length > 254 || !EMAIL.test(item.trim()))
      throw invalid(`${field}[${i}]`, 'must be an email address');
    if (!out.some((o) => o.toLowerCase() === item.trim().toLowerCase())) out.push(item.trim());
  });
  return out;
}

const FIELDS_BY_TYPE: Record<DestinationType, string[]> = {
  webhook: ['id', 'type', 'url', 'auth', 'timeout_ms'],
  slack: ['id', 'type', 'url'],
  email: ['id', 'type', 'to'],
  broker: ['id', 'type', 'url', 'timeout_ms'],
};

function checkDestination(
  ctx: DomainContext,
  value: unknown,
  i: number,
  existing: Map<string, { row: DestinationRow; open: DestinationConfig }>,
): DestinationDraft {
  const field = `destinations[${i}]`;
  if (!isObject(value)) throw invalid(field, 'must be an object with a type of webhook, slack, email or broker');
  const type = value.type as DestinationType;
  if (!DESTINATION_TYPES.includes(type)) throw invalid(`${field}.type`, 'must be webhook, slack, email or broker');
  const extra = Object.keys(value).find((k) => !FIELDS_BY_TYPE[type].includes(k));
  if (extra)
    throw invalid(`${field}.${extra}`, `is not a field of a ${type} destination (${FIELDS_BY_TYPE[type].join(', ')})`);

  let previous: DestinationConfig | null = null;
  if (value.id !== undefined && value.id !== null) {
    const found = typeof value.id === 'string' ? existing.get(value.id) : undefined;
    if (!found) throw invalid(`${field}.id`, 'does not name a destination of this automation');
    if (found.row.type !== type)
      throw invalid(`${field}.type`, 'cannot change; remove the destination and add a new one');
    previous = found.open;
  }
  const keepId = previous ? (value.id as string) : null;

  if (type === 'webhook') {
    const prev = previous?.type === 'webhook' ? previous.config : null;
    const url = checkOutboundUrl(ctx, value.url ?? prev?.url, `${field}.url`);
    // A new origin does not inherit the stored credential: the edit must carry it again, or drop it.
    if (prev && prev.auth.type !== 'none' && prev.auth.token && !sameOrigin(prev.url, url)) {
      const auth = isObject(value.auth) ? value.auth : null;
      const resent = auth !== null && (auth.type === 'none' || (typeof auth.token === 'string' && auth.token !== ''));
      if (!resent) throw credentialsRequired(`${field}.auth.token`);
    }
    const auth = checkAuth(value.auth, `${field}.auth`, prev?.auth ?? null);
    return {
      keepId,
      spec: { type, config: { url, auth } },
      timeoutMs: checkTimeout(value.timeout_ms, `${field}.timeout_ms`),
    };
  }
  if (type === 'slack') {
    const prev = previous?.type === 'slack' ? previous.config : null;
    return {
      keepId,
      spec: { type, config: { url: checkOutboundUrl(ctx, value.url ?? prev?.url, `${field}.url`) } },
      timeoutMs: SLACK_TIMEOUT_MS,
    };
  }
  if (type === 'broker') {
    const prev = previous?.type === 'broker' ? previous.config : null;
    // Left out on an edit, the URL (and its password) stay as they are.
    const config = value.url === undefined && prev ? prev : checkBrokerUrl(ctx, value.url, `${field}.url`, prev);
    return { keepId, spec: { type, config }, timeoutMs: checkTimeout(value.timeout_ms, `${field}.timeout_ms`) };
  }
  return {
    keepId,
    spec: { type, config: { to: checkRecipients(value.to, `${field}.to`) } },
    timeoutMs: EMAIL_TIMEOUT_MS,
  };
}

function checkDestinations(ctx: DomainContext, value: unknown, existing: DestinationRow[]): DestinationDraft[] {
  if (!Array.isArray(value)) throw invalid('destinations', 'must be an array of destinations');
  if (value.length > MAX_DESTINATIONS)
    throw invalid('destinations', `may hold at most ${MAX_DESTINATIONS} destinations`);
  const byId = new Map(existing.map((row) => [row.id, { row, open: openDestination(ctx, row) }]));
  const drafts = value.map((item, i) => checkDestination(ctx, item, i, byId));
  const ids = drafts.map((d) => d.keepId).filter(Boolean);
  if (new Set(ids).size !== ids.length) throw invalid('destinations', 'lists the same destination id twice');
  return drafts;
}

async function writeDestinations(
  ctx: DomainContext,
  tx: Tx,
  automation: { id: string; company_id: string },
  drafts: DestinationDraft[],
  existing: DestinationRow[],
  now: number,
) {
  const kept = new Set(drafts.map((d) => d.keepId).filter((id): id is string => id !== null));
  const removed = existing.filter((row) => !kept.has(row.id)).map((row) => row.id);
  if (removed.length) await tx.deleteFrom('destinations').where('id', 'in', removed).execute();
  for (const [position, draft] of drafts.entries()) {
    const config_enc = ctx.box.sealJson(draft.spec.config);
    if (draft.keepId) {
      await tx
        .updateTable('destinations')
        .set({ config_enc, timeout_ms: draft.timeoutMs, position })
        .where('id', '=', draft.keepId)
        .execute();
    } else {
      await tx
        .insertInto('destinations')
        .values({
          id: newId('dst'),
          automation_id: automation.id,
          company_id: automation.company_id,
          type: draft.spec.type,
          config_enc,
          secret_enc: newDestinationSecret(ctx, draft.spec.type),
          timeout_ms: draft.timeoutMs,
          position,
          created_at: now,
        })
        .execute();
    }
  }
}

function maskUrlSecret(url: string): string {
  try {
    const u = new URL(url);
    const parts = u.pathname.split('/');
    if (parts.length > 1 && parts[parts.length - 1]) parts[parts.length - 1] = '********';
    return `${u.origin}${parts.join('/')}`;
  } catch {
    return '********';
  }
}

/** A destination as the API shows it: credentials never, only whether one is set. */
export function destinationView(ctx: Pick<DomainContext, 'box'>, row: DestinationRow) {
  const opened = openDestination(ctx, row);
  switch (opened.type) {
    case 'webhook': {
      const auth = opened.config.auth;
      return {
        id: row.id,
        type: 'webhook' as const,
        url: opened.config.url,
        auth: {
          type: auth.type,
          header_name: auth.type === 'custom_header' ? (auth.header_name ?? null) : null,
          has_token: Boolean(auth.token),
        },
        timeout_ms: row.timeout_ms,
      };
    }
    case 'slack':
      return { id: row.id, type: 'slack' as const, url: maskUrlSecret(opened.config.url) };
    case 'email':
      return { id: row.id, type: 'email' as const, to: opened.config.to };
    case 'broker':
      return {
        id: row.id,
        type: 'broker' as const,
        url: opened.config.url,
        has_url_password: opened.config.password !== null,
        timeout_ms: row.timeout_ms,
      };
  }
}

export type AutomationView = ReturnType<typeof automationView>;

function automationView(ctx: Pick<DomainContext, 'box'>, row: AutomationRow, destinations: DestinationRow[]) {
  return {
    id: row.id,
    name: row.name,
    active: row.active === 1,
    filter: JSON.parse(row.filter) as AutomationFilter,
    sensitivity: row.sensitivity as Sensitivity,
    destinations: destinations.map((d) => destinationView(ctx, d)),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

async function destinationsOf(db: Db | Tx, automationIds: string[]): Promise<Map<string, DestinationRow[]>> {
  const byAutomation = new Map<string, DestinationRow[]>(automationIds.map((id) => [id, []]));
  if (automationIds.length === 0) return byAutomation;
  const rows = await db
    .selectFrom('destinations')
    .selectAll()
    .where('automation_id', 'in', automationIds)
    .orderBy('automation_id')
    .orderBy('position')
    .execute();
  for (const row of rows) byAutomation.get(row.automation_id)?.push(row);
  return byAutomation;
}

async function findAutomation(db: Db | Tx, companyId: string, id: string): Promise<AutomationRow> {
  const row = await db
    .selectFrom('automations')
    .selectAll()
    .where('id', '=', id)
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  if (!row) throw notFound('automation');
  return row;
}

export async function createAutomation(ctx: DomainContext, companyId: string, body: unknown): Promise<AutomationView> {
  if (!isObject(body)) throw new AppError('invalid_request', 'Send the automation as a JSON object');
  const extra = Object.keys(body).find((k) => !AUTOMATION_FIELDS.includes(k));
  if (extra) throw invalid(extra, `is not an automation field (${AUTOMATION_FIELDS.join(', ')})`);
  const name = checkName(body.name);
  const active = body.active === undefined ? true : checkActive(body.active);
  const filter = checkFilter(body.filter);
  const sensitivity = body.sensitivity === undefined ? 'balanced' : checkSensitivity(body.sensitivity);
  const drafts = checkDestinations(ctx, body.destinations ?? [], []);
  const id = await transact(ctx, async ({ tx, now }) => {
    // Two creates at once would both count below the limit: they take turns on the company row.
    await lockCompanyRow(ctx, tx, companyId);
    const count = await tx
      .selectFrom('automations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('company_id', '=', companyId)
      .executeTakeFirstOrThrow();
    const limit = ctx.config.companyLimits.automations;
    if (Number(count.n) >= limit)
      throw new AppError(
        'automation_limit_reached',
        `A company may have at most ${limit} automations; delete one first`,
        { limit },
      );
    const row = {
      id: newId('aut'),
      company_id: companyId,
      name,
      active: active ? 1 : 0,
      filter: JSON.stringify(filter),
      sensitivity,
      created_at: now,
      updated_at: now,
    };
    await tx.insertInto('automations').values(row).execute();
    await writeDestinations(ctx, tx, row, drafts, [], now);
    return row.id;
  });
  return getAutomation(ctx, companyId, id);
}

/**
 * Partial update. `destinations`, when given, is the full new list: entries with the `id` of an existing destination
 * update it (a credential or Slack URL left out is kept), entries without one are added, the rest are removed.
 */
export async function updateAutomation(
  ctx: DomainContext,
  companyId: string,
  id: string,
  body: unknown,
): Promise<AutomationView> {
  if (!isObject(body)) throw new AppError('invalid_request', 'Send the changes as a JSON object');
  const extra = Object.keys(body).find((k) => !AUTOMATION_FIELDS.includes(k));
  if (extra) throw invalid(extra, `is not an automation field (${AUTOMATION_FIELDS.join(', ')})`);
  if (Object.keys(body).length === 0) throw validationFailed(`send at least one of ${AUTOMATION_FIELDS.join(', ')}`);
  await transact(ctx, async ({ tx, now }) => {
    const row = await findAutomation(tx, companyId, id);
    const changes: Partial<AutomationRow> = { updated_at: now };
    if (body.name !== undefined) changes.name = checkName(body.name);
    if (body.active !== undefined) changes.active = checkActive(body.active) ? 1 : 0;
    if (body.filter !== undefined) changes.filter = JSON.stringify(checkFilter(body.filter));
    if (body.sensitivity !== undefined) changes.sensitivity = checkSensitivity(body.sensitivity);
    if (body.destinations !== undefined) {
      const existing = (await destinationsOf(tx, [row.id])).get(row.id)!;
      const drafts = checkDestinations(ctx, body.destinations, existing);
      await writeDestinations(ctx, tx, row, drafts, existing, now);
    }
    await tx.updateTable('automations').set(changes).where('id', '=', row.id).execute();
  });
  return getAutomation(ctx, companyId, id);
}

/** Removes the automation and its destinations; deliveries already queued to them end without an attempt. */
export async function deleteAutomation(ctx: DomainContext, companyId: string, id: string): Promise<void> {
  await transact(ctx, async ({ tx }) => {
    await findAutomation(tx, companyId, id);
    await tx.deleteFrom('destinations').where('automation_id', '=', id).where('company_id', '=', companyId).execute();
    await tx.deleteFrom('automations').where('id', '=', id).where('company_id', '=', companyId).execute();
  });
}

export async function getAutomation(ctx: DomainContext, companyId: string, id: string): Promise<AutomationView> {
  const row = await findAutomation(ctx.store.db, companyId, id);
  const destinations = await destinationsOf(ctx.store.db, [row.id]);
  return automationView(ctx, row, destinations.get(row.id)!);
}

export async function listAutomations(
  ctx: DomainContext,
  companyId: string,
  page: number,
  limit: number,
): Promise<{ items: AutomationView[]; total: number }> {
  const base = ctx.store.db.selectFrom('automations').where('company_id', '=', companyId);
  const [rows, count] = await Promise.all([
    base
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .offset((page - 1) * limit)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  const destinations = await destinationsOf(
    ctx.store.db,
    rows.map((r) => r.id),
  );
  return { items: rows.map((r) => automationView(ctx, r, destinations.get(r.id)!)), total: Number(count.n) };
}

/** An active automation as the processor evaluates it. */
export interface ActiveAutomation {
  id: string;
  filter: AutomationFilter;
  sensitivity: Sensitivity;
  destinations: { id: string; type: DestinationType }[];
}

export async function loadActiveAutomations(tx: Tx, companyId: string): Promise<ActiveAutomation[]> {
  const rows = await tx
    .selectFrom('automations')
    .select(['id', 'filter', 'sensitivity'])
    .where('company_id', '=', companyId)
    .where('active', '=', 1)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const destinations = await destinationsOf(
    tx,
    rows.map((r) => r.id),
  );
  return rows.map((r) => ({
    id: r.id,
    filter: JSON.parse(r.filter) as AutomationFilter,
    sensitivity: r.sensitivity as Sensitivity,
    destinations: destinations.get(r.id)!.map((d) => ({ id: d.id, type: d.type })),
  }));
}

/** Level at or above the minimum, the source among the listed ones, any keyword in the text (all case-insensitive). */
export function matchesFilter(
  filter: AutomationFilter,
  record: { source: string; content: string; escalationLevel: Level },
): boolean {
  if (levelRank(record.escalationLevel) < levelRank(filter.min_level)) return false;
  if (filter.sources?.length) {
    const source = record.source.toLowerCase();
    if (!filter.sources.some((s) => s.toLowerCase() === source)) return false;
  }
  if (filter.keywords?.length) {
    const text = record.content.toLowerCase();
    if (!filter.keywords.some((k) => text.includes(k.toLowerCase()))) return false;
  }
  return true;
}
