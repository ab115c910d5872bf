import { sql } from 'kysely';
import { AppError, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { hashToken, newToken } from '../security/tokens.js';
import type { Db } from '../storage/db.js';
import type { ApiKeysTable, CompaniesTable } from '../storage/schema.js';
import { getCompany, lockCompanyRow } from './companies.js';
import { API_PLANS } from './plans.js';
import type { ApiKeyPrincipal } from './api-key-cache.js';
import { transact, type DomainContext } from './context.js';
import { wakeAtCommit } from '../queue/wakeup.js';
import { isoOrNull } from '../clock.js';

export type { ApiKeyPrincipal };

const API_KEY_PREFIX = 'esc_';
export const SCOPES = ['read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scope: Scope;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** Creates a key; the full key is in the answer and nowhere else (only its SHA-256 is stored). */
export async function createApiKey(
  ctx: DomainContext,
  input: { companyId: string; name: string; scope: Scope; createdBy?: string | null },
): Promise<{ key: string; apiKey: ApiKeyView }> {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new AppError('validation_failed', 'name must be 1–100 characters');
  if (!SCOPES.includes(input.scope)) throw new AppError('validation_failed', 'scope must be read or admin');
  const company = await getCompany(ctx.store.db, input.companyId);
  if (!API_PLANS.includes(company.plan)) {
    throw new AppError(
      'plan_required',
      `API keys need the Professional or Enterprise plan; ${company.code} is on ${company.plan}`,
    );
  }
  const { token, hash, displayPrefix } = newToken(API_KEY_PREFIX);
  const now = ctx.clock.now();
  const row = {
    id: newId('key'),
    company_id: company.id,
    name,
    prefix: displayPrefix,
    key_hash: hash,
    scope: input.scope,
    created_by: input.createdBy ?? null,
    created_at: now,
    last_used_at: null,
    revoked_at: null,
  };
  // Each key has its own rate limit: without a cap an admin key could mint keys to multiply its budget. Two creates at
  // once take turns on the company row, so they cannot both count below the cap.
  const limit = ctx.config.companyLimits.apiKeys;
  await transact(ctx, async ({ tx }) => {
    await lockCompanyRow(ctx, tx, company.id);
    const { n } = await tx
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('company_id', '=', company.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(n) >= limit)
      throw new AppError(
        'api_key_limit_reached',
        `A company may have at most ${limit} API keys that are not revoked; revoke one first`,
        { limit },
      );
    await tx.insertInto('api_keys').values(row).execute();
  });
  return {
    key: token,
    apiKey: {
      id: row.id,
      name,
      prefix: displayPrefix,
      scope: input.scope,
      created_at: isoOrNull(now)!,
      last_used_at: null,
      revoked_at: null,
    },
  };
}

const VIEW_COLUMNS = ['id', 'name', 'prefix', 'scope', 'created_at', 'last_used_at', 'revoked_at'] as const;

function toView(r: {
  id: string;
  name: string;
  prefix: string;
  scope: Scope;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}): ApiKeyView {
  return {
    ...r,
    created_at: isoOrNull(r.created_at)!,
    last_used_at: isoOrNull(r.last_used_at),
    revoked_at: isoOrNull(r.revoked_at),
  };
}

export async function listApiKeys(db: Db, companyId: string): Promise<ApiKeyView[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select(VIEW_COLUMNS)
    .where('company_id', '=', companyId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return rows.map(toView);
}

/** One key of the company; another company's key answers exactly like a missing one. */
export async function getApiKey(db: Db, companyId: string, id: string): Promise<ApiKeyView> {
  const row = await db
    .selectFrom('api_keys')
    .select(VIEW_COLUMNS)
    .where('id', '=', id)
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  if (!row) throw notFound('API key');
  return toView(row);
}

/**
 * Revokes a key at once (the next request with it is refused); revoking a revoked key changes nothing. Every other
 * process drops the keys it verified once it hears of the commit (the 'credentials' wake-up).
 */
export async function revokeApiKey(ctx: DomainContext, companyId: string, id: string): Promise<ApiKeyView> {
  await transact(ctx, async (work) => {
    await work.tx
      .updateTable('api_keys')
      .set({ revoked_at: work.now })
      .where('id', '=', id)
      .where('company_id', '=', companyId)
      .where('revoked_at', 'is', null)
      .execute();
    await wakeAtCommit(ctx.store, work, 'credentials');
  });
  // After the commit: a request between the two would read the store, still see the key, and cache it again.
  ctx.apiKeys.forgetKey(id);
  return getApiKey(ctx.store.db, companyId, id);
}

const LAST_USED_GRANULARITY_MS = 60_000;

// Longer than any key we issue (esc_ + 43 base64url characters); longer input is not worth hashing.
const MAX_KEY_LENGTH = 200;

/**
 * Resolves a presented key to its company. Lookup is by SHA-256 of the key, so neither a wrong key nor a
 * missing one takes a different path through string comparison; a malformed key (wrong prefix) is looked up all
 * the same, so unknown, revoked and malformed keys cost the same and all come back null (one 401 for all three).
 * A key that verified is answered from this process's cache for up to API_KEY_CACHE_MS (api-key-cache.ts), which
 * is also how late a revocation made by another process takes effect here; last_used_at is written at most once a
 * minute, when the key is read from the store.
 */
export async function authenticateApiKey(
  ctx: Pick<DomainContext, 'store' | 'apiKeys'>,
  key: string,
  now: number,
): Promise<ApiKeyPrincipal | null> {
  const wellFormed = key.startsWith(API_KEY_PREFIX) && key.length <= MAX_KEY_LENGTH;
  const hash = hashToken(key.slice(0, MAX_KEY_LENGTH + 1));
  const cached = wellFormed ? ctx.apiKeys.get(hash, now) : null;
  if (cached) return cached;
  const db = ctx.store.db;
  const stamp = ctx.apiKeys.stamp();
  // SQL text rather than the query builder: this runs on every API request, and building it cost more than running it.
  const { rows } = await sql<
    Pick<ApiKeysTable, 'id' | 'company_id' | 'scope' | 'name' | 'revoked_at' | 'last_used_at'> &
      Pick<CompaniesTable, 'code' | 'plan'>
  >`
    select k.id, k.company_id, k.scope, k.name, k.revoked_at, k.last_used_at, c.code, c.plan
    from api_keys as k join companies as c on c.id = k.company_id
    where k.key_hash = ${hash}`.execute(db);
  const row = rows[0];
  if (!row || !wellFormed || row.revoked_at !== null) return null;
  if (row.last_used_at === null || now - row.last_used_at > LAST_USED_GRANULARITY_MS) {
    await db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', row.id).execute();
  }
  const principal: ApiKeyPrincipal = {
    keyId: row.id,
    companyId: row.company_id,
    companyCode: row.code,
    plan: row.plan,
    scope: row.scope,
    label: `api-key:${row.name}`,
  };
  ctx.apiKeys.set(hash, principal, now, stamp);
  return principal;
}
