import { expect } from 'vitest';
import type { InjectOptions } from 'fastify';
import type { Db } from '../../src/storage/db.js';
import type { Database } from '../../src/storage/schema.js';
import { createApiKey } from '../../src/domain/api-keys.js';
import { createCompany } from '../../src/domain/companies.js';
import type { Plan } from '../../src/domain/plans.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';

/**
 * A company with an admin key, a read key and a consumer: seedTenant without the owner login, whose memory-hard
 * password hash would dominate these tests' time.
 */
export async function seedCompany(t: TestApp, opts: { code?: string; plan?: Plan } = {}) {
  const ctx = t.app.ctx;
  const code = opts.code ?? 'VOLT';
  const company = await createCompany(ctx, { name: `${code} Corp`, code, plan: opts.plan ?? 'professional' });
  const apiPlan = company.plan === 'professional' || company.plan === 'enterprise';
  const adminKey = apiPlan
    ? (await createApiKey(ctx, { companyId: company.id, name: 'admin', scope: 'admin' })).key
    : '';
  const readKey = apiPlan ? (await createApiKey(ctx, { companyId: company.id, name: 'read', scope: 'read' })).key : '';
  const { consumer, token: consumerToken } = await createConsumerWithToken(ctx, {
    email: `alice+${code.toLowerCase()}@example.test`,
    name: 'Alice',
  });
  return { company, adminKey, readKey, consumer, consumerToken };
}

/** What the tests need to call the API as an outside client: a consumer with a token, staff with keys. */
export type Tenant = Awaited<ReturnType<typeof seedCompany>>;

export interface Answer {
  status: number;
  body: any;
}

const CONSUMER = '/api/consumer/v1';
const PLATFORM = '/api/v1';

export async function call(t: TestApp, opts: InjectOptions): Promise<Answer> {
  const r = await t.app.http.inject(opts);
  let body: unknown = r.body;
  if ((r.headers['content-type'] ?? '').toString().startsWith('application/json')) body = r.json();
  return { status: r.statusCode, body };
}

/** The Consumer API as one consumer sees it. */
export function consumerApi(t: TestApp, token: string) {
  return {
    post: (path: string, payload?: unknown) =>
      call(t, {
        method: 'POST',
        url: `${CONSUMER}${path}`,
        headers: bearer(token),
        ...(payload === undefined ? {} : { payload: payload as object }),
      }),
    get: (path: string) => call(t, { method: 'GET', url: `${CONSUMER}${path}`, headers: bearer(token) }),
  };
}

/** The Platform API with one API key. */
export function staffApi(t: TestApp, key: string) {
  return {
    post: (path: string, payload?: unknown) =>
      call(t, {
        method: 'POST',
        url: `${PLATFORM}${path}`,
        headers: bearer(key),
        ...(payload === undefined ? {} : { payload: payload as object }),
      }),
    put: (path: string, payload?: unknown) =>
      call(t, {
        method: 'PUT',
        url: `${PLATFORM}${path}`,
        headers: bearer(key),
        ...(payload === undefined ? {} : { payload: payload as object }),
      }),
    get: (path: string) => call(t, { method: 'GET', url: `${PLATFORM}${path}`, headers: bearer(key) }),
  };
}

export type ConsumerApi = ReturnType<typeof consumerApi>;
export type StaffApi = ReturnType<typeof staffApi>;

/** A fresh app with one company, and API clients for its consumer and its admin key. */
export async function companyScene(
  opts?: Parameters<typeof createTestApp>[0],
): Promise<{ t: TestApp; tenant: Tenant; consumer: ConsumerApi; staff: StaffApi }> {
  const t = await createTestApp(opts);
  const tenant = await seedCompany(t);
  return { t, tenant, consumer: consumerApi(t, tenant.consumerToken), staff: staffApi(t, tenant.adminKey) };
}

/** A fresh app with the company under test (and its admin key's client) and a second one, ACME, to keep apart. */
export async function twoCompanies(): Promise<{ t: TestApp; tenant: Tenant; acme: Tenant; admin: StaffApi }> {
  const t = await createTestApp();
  const tenant = await seedCompany(t);
  const acme = await seedCompany(t, { code: 'ACME' });
  return { t, tenant, acme, admin: staffApi(t, tenant.adminKey) };
}

export const complaintInput = (overrides: Record<string, unknown> = {}) => ({
  company_code: 'VOLT',
  complaint_category: 'Consumer Durables',
  title: 'Broken fridge',
  description: 'It stopped cooling after a week',
  priority: 'high',
  amount_involved: 42000,
  currency: 'INR',
  ...overrides,
});

/** Files a complaint through the Consumer API and returns its escalatr_id. */
export async function fileComplaint(
  t: TestApp,
  consumerToken: string,
  overrides: Record<string, unknown> = {},
): Promise<string> {
  const r = await consumerApi(t, consumerToken).post('/complaints', complaintInput(overrides));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.data.escalatr_id as string;
}

/** Expects a success answer and returns its data. */
export function okData(r: Answer, status = 200): any {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.success).toBe(true);
  return r.body.data;
}

/** Expects an error answer with this status and code, in the one error envelope. */
export function expectError(r: Answer, status: number, code: string): void {
  expect({ status: r.status, code: r.body?.error?.code }, JSON.stringify(r.body)).toEqual({ status, code });
  expect(r.body.success).toBe(false);
  expect(typeof r.body.error.message).toBe('string');
}

export interface StoredEvent {
  id: string;
  name: string;
  complaint_id: string | null;
  body: { id: string; event: string; timestamp: string; data: Record<string, any> };
}

export async function eventsOf(db: Db, complaintId?: string): Promise<StoredEvent[]> {
  let q = db.selectFrom('events').select(['id', 'name', 'complaint_id', 'body']).orderBy('company_id').orderBy('seq');
  if (complaintId) q = q.where('complaint_id', '=', complaintId);
  const rows = await q.execute();
  return rows.map((r) => ({ ...r, body: JSON.parse(r.body) }));
}

export async function countEvents(db: Db, name?: string): Promise<number> {
  let q = db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n'));
  if (name) q = q.where('name', '=', name);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

const TABLES: (keyof Database)[] = [
  'companies',
  'users',
  'consumers',
  'consumer_tokens',
  'complaints',
  'messages',
  'evidence',
  'settlement_offers',
  'followups',
  'complaint_notes',
  'complaint_levels',
  'action_drafts',
  'social_drafts',
  'events',
  'endpoints',
  'deliveries',
  'attempts',
];

/**
 * Every row of every table the complaint domain writes, as text, to compare before and after a refused request.
 * API keys are left out: authenticating legitimately stamps last_used_at.
 */
export async function snapshot(db: Db): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const order =
      table === 'complaints' ? ['escalatr_id'] : table === 'complaint_levels' ? ['complaint_id', 'level'] : ['id'];
    let q = (db as any).selectFrom(table).selectAll();
    for (const column of order) q = q.orderBy(column);
    const rows = await q.execute();
    out[table] = JSON.stringify(rows, (_k, v) => (v && v.type === 'Buffer' ? `<${v.data.length} bytes>` : v));
  }
  return out;
}

/** Asserts that the body of a stored event is exactly the webhook envelope: id, event, timestamp with ms, data. */
export function expectEnvelope(e: StoredEvent): void {
  expect(Object.keys(e.body)).toEqual(['id', 'event', 'timestamp', 'data']);
  expect(e.body.id).toBe(e.id);
  expect(e.body.id).toMatch(/^evt_[a-z0-9]{20}$/);
  expect(e.body.event).toBe(e.name);
  expect(e.body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
}
