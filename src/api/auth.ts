import '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateApiKey, type Scope } from '../domain/api-keys.js';
import { API_PLANS, type Plan } from '../domain/plans.js';
import { findConsumerSession } from '../domain/consumer-sign-in.js';
import { authenticateConsumer } from '../domain/consumers.js';
import type { Actor } from '../domain/complaint-steps.js';
import type { Role } from '../domain/users.js';
import { AppError } from '../errors.js';
import { hashToken } from '../security/tokens.js';
import type { Db } from '../storage/db.js';
import type { Clock } from '../clock.js';
import type { DomainContext } from '../domain/context.js';

export const SESSION_COOKIE = 'escalatr_session';
/** The consumer portal's session: its own cookie, so a staff member can be signed in to both in one browser. */
export const CONSUMER_SESSION_COOKIE = 'escalatr_consumer';

/** What a company-side caller may do: read, work complaints (staff steps), or administer integrations. */
export type Permission = 'read' | 'work' | 'admin';

export type CompanyPrincipal = {
  kind: 'api_key' | 'session';
  companyId: string;
  companyCode: string;
  plan: Plan;
  /** An email for sessions, `api-key:{name}` for keys: what claimed_by and similar fields show. */
  label: string;
  permissions: ReadonlySet<Permission>;
  keyId?: string;
  userId?: string;
  role?: Role;
  csrfToken?: string;
};

type ConsumerPrincipal = { kind: 'consumer'; consumerId: string; email: string };

declare module 'fastify' {
  interface FastifyRequest {
    company?: CompanyPrincipal;
    consumer?: ConsumerPrincipal;
  }
}

const SCOPE_PERMISSIONS: Record<Scope, Permission[]> = { read: ['read'], admin: ['read', 'work', 'admin'] };
const ROLE_PERMISSIONS: Record<Role, Permission[]> = {
  owner: ['read', 'work', 'admin'],
  admin: ['read', 'work', 'admin'],
  agent: ['read', 'work'],
  viewer: ['read'],
};

/** Takes the credential from `Authorization: Bearer …` or `X-API-Key: …`. */
function presentedKey(request: FastifyRequest): string | null {
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && auth.length > 0) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : '';
  }
  const header = request.headers['x-api-key'];
  if (typeof header === 'string') return header.trim();
  return null;
}

async function sessionPrincipal(db: Db, request: FastifyRequest, now: number): Promise<CompanyPrincipal | null> {
  const token = request.cookies?.[SESSION_COOKIE];
  if (!token) return null;
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .innerJoin('companies', 'companies.id', 'sessions.company_id')
    .select([
      'sessions.csrf_token',
      'sessions.expires_at',
      'users.id as user_id',
      'users.email',
      'users.role',
      'companies.id as company_id',
      'companies.code',
      'companies.plan',
    ])
    .where('sessions.id', '=', hashToken(token))
    .executeTakeFirst();
  if (!row || row.expires_at <= now) return null;
  return {
    kind: 'session',
    companyId: row.company_id,
    companyCode: row.code,
    plan: row.plan,
    label: row.email,
    permissions: new Set(ROLE_PERMISSIONS[row.role]),
    userId: row.user_id,
    role: row.role,
    csrfToken: row.csrf_token,
  };
}

/**
 * The answer to a request without valid credentials. It spends the address's anonymous budget first, so a flood of
 * such requests is answered 429 (and, like every refusal here, before the body is read).
 */
function unauthorized(request: FastifyRequest, reply: FastifyReply, message: string): AppError {
  request.server.anonymousLimit.spend(request);
  reply.header('WWW-Authenticate', 'Bearer realm="escalatr"');
  return new AppError('unauthorized', message);
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The `onRequest` hook of company routes — it must run before the body is parsed or validated, so an anonymous caller
 * learns nothing from a 400 and costs no parsing: an API key (Professional/Enterprise only) or a dashboard session, with the
 * permission the route needs. Session writes must carry the CSRF token; API keys are not ambient, so need none.
 */
export function requireCompany(ctx: DomainContext, permission: Permission) {
  const { db } = ctx.store;
  const { clock } = ctx;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const key = presentedKey(request);
    let principal: CompanyPrincipal | null;
    if (key !== null) {
      const found = await authenticateApiKey(ctx, key, clock.now());
      // One answer for unknown, revoked and malformed keys: nothing tells a caller which it was.
      if (!found) throw unauthorized(request, reply, 'Missing, unknown or revoked API key');
      if (!API_PLANS.includes(found.plan)) {
        throw new AppError('plan_required', 'API keys are available on the Professional and Enterprise plans');
      }
      principal = {
        kind: 'api_key',
        companyId: found.companyId,
        companyCode: found.companyCode,
        plan: found.plan,
        label: found.label,
        permissions: new Set(SCOPE_PERMISSIONS[found.scope]),
        keyId: found.keyId,
      };
    } else {
      principal = await sessionPrincipal(db, request, clock.now());
      if (!principal) throw unauthorized(request, reply, 'Send an API key as Authorization: Bearer esc_… or X-API-Key');
      if (UNSAFE.has(request.method)) {
        const csrf = request.headers['x-csrf-token'];
        if (typeof csrf !== 'string' || csrf !== principal.csrfToken) throw new AppError('csrf_failed');
      }
    }
    if (!principal.permissions.has(permission)) {
      throw new AppError(
        principal.kind === 'api_key' ? 'insufficient_scope' : 'forbidden',
        principal.kind === 'api_key' ? `This route needs an API key with the admin scope` : `Your role cannot do this`,
      );
    }
    request.company = principal;
  };
}

/**
 * The `onRequest` hook of consumer routes, for the same reasons as requireCompany's: a consumer token, or the portal's
 * session cookie, whose writes must carry its CSRF token (a token is not ambient, so needs none).
 */
export function requireConsumer(db: Db, clock: Clock) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const key = presentedKey(request);
    if (key !== null) {
      const consumer = key ? await authenticateConsumer(db, key) : null;
      if (!consumer) throw unauthorized(request, reply, 'Send a consumer token as Authorization: Bearer csk_…');
      request.consumer = { kind: 'consumer', consumerId: consumer.id, email: consumer.email };
      return;
    }
    const cookie = request.cookies?.[CONSUMER_SESSION_COOKIE];
    const session = cookie ? await findConsumerSession(db, cookie, clock.now()) : null;
    if (!session) throw unauthorized(request, reply, 'Send a consumer token as Authorization: Bearer csk_…');
    if (UNSAFE.has(request.method)) {
      const csrf = request.headers['x-csrf-token'];
      if (typeof csrf !== 'string' || csrf !== session.csrfToken) throw new AppError('csrf_failed');
    }
    request.consumer = { kind: 'consumer', consumerId: session.consumer.id, email: session.consumer.email };
  };
}

export function staffActor(request: FastifyRequest): Extract<Actor, { kind: 'staff' }> {
  const c = request.company!;
  return { kind: 'staff', companyId: c.companyId, label: c.label };
}

export function consumerActor(request: FastifyRequest): Extract<Actor, { kind: 'consumer' }> {
  const c = request.consumer!;
  return { kind: 'consumer', consumerId: c.consumerId, email: c.email };
}
