import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { expect } from 'vitest';
import { createApiKey } from '../../src/domain/api-keys.js';
import { createCompany } from '../../src/domain/companies.js';
import type { Plan } from '../../src/domain/plans.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { newId } from '../../src/ids.js';
import { hashToken } from '../../src/security/tokens.js';
import type { Role } from '../../src/domain/users.js';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';

/**
 * The Platform API tests' cast: a company with an admin key, a read key and a consumer. No owner login is made
 * here (its memory-hard password hash would dominate the run); tests that need a dashboard session use `session`.
 */
export async function tenant(t: TestApp, code = 'VOLT', plan: Plan = 'professional') {
  const ctx = t.app.ctx;
  const company = await createCompany(ctx, { name: `${code} Corp`, code, plan });
  const adminKey = (await createApiKey(ctx, { companyId: company.id, name: 'admin', scope: 'admin' })).key;
  const readKey = (await createApiKey(ctx, { companyId: company.id, name: 'read', scope: 'read' })).key;
  const { consumer, token: consumerToken } = await createConsumerWithToken(ctx, {
    email: `alice+${code.toLowerCase()}@example.test`,
    name: 'Alice',
  });
  return { company, adminKey, readKey, consumer, consumerToken };
}
export type Tenant = Awaited<ReturnType<typeof tenant>>;

/** A fresh app with the VOLT tenant in it: how most describe blocks here start each test. */
export async function appWithTenant(opts?: Parameters<typeof createTestApp>[0]): Promise<{ t: TestApp; v: Tenant }> {
  const t = await createTestApp(opts);
  return { t, v: await tenant(t) };
}

/**
 * A signed-in dashboard user, written the way the session store keeps it (the cookie's SHA-256 as the id), so these
 * tests do not depend on the login route or pay for a password hash. The password hash column is a placeholder.
 */
export async function session(
  t: TestApp,
  companyId: string,
  role: Role,
  email = `${role}-${randomBytes(3).toString('hex')}@staff.test`,
) {
  const now = t.clock.now();
  const userId = newId('usr');
  await t.store.db
    .insertInto('users')
    .values({
      id: userId,
      company_id: companyId,
      email,
      name: null,
      password_hash: 'x',
      role,
      failed_logins: 0,
      locked_until: null,
      created_at: now,
    })
    .execute();
  const token = randomBytes(32).toString('base64url');
  const csrf = randomBytes(16).toString('hex');
  await t.store.db
    .insertInto('sessions')
    .values({
      id: hashToken(token),
      user_id: userId,
      company_id: companyId,
      csrf_token: csrf,
      expires_at: now + 3_600_000,
      created_at: now,
    })
    .execute();
  return {
    email,
    cookie: { cookie: `escalatr_session=${token}` },
    withCsrf: { cookie: `escalatr_session=${token}`, 'x-csrf-token': csrf },
  };
}

export interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: any;
}

export async function call(t: TestApp, opts: InjectOptions): Promise<Answer> {
  const r = await t.app.http.inject(opts);
  const json = String(r.headers['content-type'] ?? '').startsWith('application/json');
  return { status: r.statusCode, headers: r.headers, body: json ? r.json() : r.body };
}

/** GET on the Platform API as an outside client would send it. */
export const get = (t: TestApp, path: string, headers: Record<string, string>) =>
  call(t, { method: 'GET', url: `/api/v1${path}`, headers });

/** Files a complaint through the Consumer API and answers its escalatr_id. */
export async function file(t: TestApp, who: Tenant, overrides: Record<string, unknown> = {}): Promise<string> {
  const r = await call(t, {
    method: 'POST',
    url: '/api/consumer/v1/complaints',
    headers: bearer(who.consumerToken),
    payload: {
      company_code: who.company.code,
      complaint_category: 'Consumer Durables',
      title: 'Broken fridge',
      description: 'It stopped cooling',
      priority: 'high',
      amount_involved: 42000,
      currency: 'INR',
      ...overrides,
    },
  });
  if (r.status !== 201) throw new Error(`filing failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data.escalatr_id;
}

/** A consumer step (escalate, resolve, withdraw, messages …) through the Consumer API; throws unless it succeeds. */
export async function consumerStep(t: TestApp, who: Tenant, id: string, step: string, payload?: object) {
  const r = await call(t, {
    method: 'POST',
    url: `/api/consumer/v1/complaints/${id}/${step}`,
    headers: bearer(who.consumerToken),
    ...(payload ? { payload } : {}),
  });
  if (r.status >= 300) throw new Error(`${step} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A staff step (claim, complete …) with the tenant's admin key; throws unless it succeeds. */
export async function staffStep(t: TestApp, who: Tenant, id: string, step: string, payload?: object) {
  const r = await call(t, {
    method: 'POST',
    url: `/api/v1/complaints/${id}/${step}`,
    headers: bearer(who.adminKey),
    ...(payload ? { payload } : {}),
  });
  if (r.status >= 300) throw new Error(`${step} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * A subscribed webhook endpoint row, written directly: the feed only reads endpoints and deliveries, and no worker
 * runs in these tests, so the deliveries stay as the event writer (or the test) left them.
 */
export async function endpointRow(t: TestApp, companyId: string, events: string[] = ['*']): Promise<string> {
  const id = newId('ep');
  const now = t.clock.now();
  await t.store.db
    .insertInto('endpoints')
    .values({
      id,
      company_id: companyId,
      url: 'https://hooks.example.test/escalatr',
      description: null,
      enabled: 1,
      events: JSON.stringify(events),
      secret_enc: 'unused',
      prev_secret_enc: null,
      prev_secret_expires_at: null,
      auth_type: 'none',
      auth_enc: null,
      timeout_ms: 10_000,
      disabled_reason: null,
      disabled_at: null,
      failing_since: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

/** The error envelope every 4xx must have. */
export function expectError(a: Answer, status: number, code: string): void {
  if (
    a.status !== status ||
    a.body?.success !== false ||
    a.body?.error?.code !== code ||
    typeof a.body?.error?.message !== 'string'
  ) {
    throw new Error(`expected ${status} ${code}, got ${a.status} ${JSON.stringify(a.body)}`);
  }
}

/** Each query string is refused with 400 invalid_query naming the one parameter at fault. */
export async function expectInvalidQueries(
  t: TestApp,
  path: string,
  headers: Record<string, string>,
  cases: [query: string, parameter: string][],
): Promise<void> {
  for (const [qs, parameter] of cases) {
    const r = await get(t, `${path}?${qs}`, headers);
    expectError(r, 400, 'invalid_query');
    expect(r.body.error.details, qs).toEqual({ parameter });
    expect(r.body.error.message, qs).toContain(parameter);
  }
}
