import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { getCompany } from '../../domain/companies.js';
import { normaliseEmail } from '../../domain/users.js';
import { AppError } from '../../errors.js';
import { DUMMY_PASSWORD_HASH, verifyPassword as scryptVerify } from '../../security/passwords.js';
import { LoginThrottle } from '../../security/login-throttle.js';
import { hashToken } from '../../security/tokens.js';
import type { Db } from '../../storage/db.js';
import { SESSION_COOKIE } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { ok, Ok } from '../schemas.js';
import { SessionSchema, SignedOutSchema, type SessionView } from '../shapes/account.js';
import { iso } from '../../clock.js';

const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);

/** The one answer for an unknown email, a wrong password and a throttled attempt: nothing tells them apart. */
const badCredentials = () => new AppError('unauthorized', 'Email or password is incorrect');

function cookieOptions(config: Config) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    // Over plain http a Secure cookie would never come back, so it is set only when the public URL is https.
    secure: config.publicUrl.startsWith('https://'),
  };
}

async function sessionView(
  db: Db,
  config: Config,
  row: { user_id: string; company_id: string; csrf_token: string; expires_at: number },
): Promise<SessionView> {
  const user = await db
    .selectFrom('users')
    .select(['email', 'role'])
    .where('id', '=', row.user_id)
    .executeTakeFirstOrThrow();
  const company = await getCompany(db, row.company_id);
  return {
    user: { email: user.email, role: user.role },
    company: { code: company.code, name: company.name, plan: company.plan },
    csrf_token: row.csrf_token,
    expires_at: iso(row.expires_at),
    server: { allow_http_webhooks: config.allowHttpWebhooks },
  };
}

async function currentSession(db: Db, request: FastifyRequest, now: number) {
  const token = request.cookies?.[SESSION_COOKIE];
  if (!token || token.length > 200) return null;
  const row = await db
    .selectFrom('sessions')
    .select(['id', 'user_id', 'company_id', 'csrf_token', 'expires_at'])
    .where('id', '=', hashToken(token))
    .executeTakeFirst();
  return row && row.expires_at > now ? row : null;
}

/** Dashboard sign-in: a session cookie (http-only, SameSite=Lax) plus a CSRF token the app sends on every write. */
export function sessionRoutes({ ctx, config, verifyPassword = scryptVerify }: RouteDeps) {
  return async (app: ApiApp) => {
    const db = ctx.store.db;
    const tags = ['Dashboard session'];
    const throttle = new LoginThrottle(ctx.clock);

    app.post(
      '/login',
      {
        // Sign-in is anonymous traffic: it spends the address's budget before the body is read.
        onRequest: async (request) => app.anonymousLimit.spend(request),
        config: {
          errors: {
            401: 'unauthorized: email or password is incorrect (also while attempts for the account are throttled)',
          },
        },
        schema: {
          tags,
          summary: 'Sign in',
          description: 'Sets the session cookie and answers the CSRF token writes must carry.',
          body: LoginBody,
          response: { 200: Ok(SessionSchema) },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const now = ctx.clock.now();
        const email = normaliseEmail(body.email);
        const account = email ?? body.email.trim().toLowerCase();
        // Every path does the same work — the lookup and one key derivation — so neither the answer nor its time
        // tells an unknown email, a wrong password and a throttled attempt apart.
        const allowed = throttle.allows(account, request.ip);
        const user = email
          ? await db
              .selectFrom('users')
              .select(['id', 'company_id', 'password_hash'])
              .where('email', '=', email)
              .executeTakeFirst()
          : undefined;
        const matches = await verifyPassword(body.password, user?.password_hash ?? DUMMY_PASSWORD_HASH);
        if (!allowed || !user || !matches) {
          // A throttled attempt is not counted: only checked passwords make the wait grow.
          if (allowed) throttle.recordFailure(account, request.ip);
          throw badCredentials();
        }
        throttle.recordSuccess(account, request.ip);

        const token = randomBytes(32).toString('base64url');
        const session = {
          id: hashToken(token),
          user_id: user.id,
          company_id: user.company_id,
          csrf_token: randomBytes(32).toString('base64url'),
          expires_at: now + SESSION_TTL_MS,
          created_at: now,
        };
        await db.transaction().execute(async (tx) => {
          // Expired sessions of this user are swept here, so the table does not grow with every sign-in.
          await tx.deleteFrom('sessions').where('user_id', '=', user.id).where('expires_at', '<=', now).execute();
          await tx.insertInto('sessions').values(session).execute();
        });
        reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions(config), maxAge: SESSION_TTL_MS / 1000 });
        return ok(await sessionView(db, config, session));
      },
    );

    app.get(
      '/',
      {
        config: { errors: { 401: 'unauthorized: not signed in' } },
        schema: { tags, summary: 'The current session', response: { 200: Ok(SessionSchema) } },
      },
      async (request) => {
        const session = await currentSession(db, request, ctx.clock.now());
        if (!session) throw new AppError('unauthorized', 'Not signed in');
        return ok(await sessionView(db, config, session));
      },
    );

    app.post(
      '/logout',
      {
        config: { errors: { 403: 'csrf_failed: a signed-in session without its X-CSRF-Token' } },
        schema: { tags, summary: 'Sign out', response: { 200: Ok(SignedOutSchema) } },
      },
      async (request, reply) => {
        const session = await currentSession(db, request, ctx.clock.now());
        if (session) {
          // Without this check any site could sign a user out with a cross-site form post.
          if (request.headers['x-csrf-token'] !== session.csrf_token) throw new AppError('csrf_failed');
          await db.deleteFrom('sessions').where('id', '=', session.id).execute();
        }
        reply.clearCookie(SESSION_COOKIE, cookieOptions(config));
        return ok({ signed_out: true as const });
      },
    );
  };
}
