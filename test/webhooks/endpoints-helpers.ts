import { vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { endpointTarget } from '../../src/webhooks/endpoint-target.js';
import type { DeliveryPlan } from '../../src/webhooks/targets.js';
import type { Config } from '../../src/config.js';

/** Two tenants (VOLT and ACME) on one app, and a small JSON client per API key. */
export async function setupWebhooks(config: Partial<Config> = {}) {
  const t = await createTestApp({ config });
  const volt = await seedTenant(t, { code: 'VOLT' });
  const acme = await seedTenant(t, { code: 'ACME' });
  return {
    t,
    volt,
    acme,
    api: client(t, volt.adminKey),
    acmeApi: client(t, acme.adminKey),
    readApi: client(t, volt.readKey),
  };
}

export type Api = ReturnType<typeof client>;

export function client(t: TestApp, key: string | null) {
  const headers = key ? bearer(key) : {};
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => {
    const res = await t.app.http.inject({
      method,
      url: `/api/v1${url}`,
      headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    return { status: res.statusCode, body: res.json() as any, headers: res.headers, raw: res.body };
  };
  return {
    get: (url: string) => call('GET', url),
    post: (url: string, payload?: unknown) => call('POST', url, payload),
    patch: (url: string, payload?: unknown) => call('PATCH', url, payload),
    delete: (url: string) => call('DELETE', url),
  };
}

export const HOOK_URL = 'https://hooks.example.com/escalatr';

/** Creates an endpoint and returns the 201 answer's data (with the secret). */
export async function createEndpoint(api: Api, body: Record<string, unknown> = {}) {
  const res = await api.post('/webhooks', { url: HOOK_URL, events: ['*'], ...body });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.raw}`);
  return res.body.data as { id: string; secret: string; [k: string]: unknown };
}

/** Files a complaint as VOLT's consumer: one complaint.created event, delivered to every subscribed endpoint. */
export async function fileComplaint(t: TestApp, consumerToken: string, companyCode = 'VOLT') {
  const res = await t.app.http.inject({
    method: 'POST',
    url: '/api/consumer/v1/complaints',
    headers: bearer(consumerToken),
    payload: {
      company_code: companyCode,
      complaint_category: 'Consumer Durables',
      title: 'Broken fridge',
      description: 'It stopped cooling',
      priority: 'high',
    },
  });
  if (res.statusCode !== 201) throw new Error(`filing failed: ${res.statusCode} ${res.body}`);
  return res.json().data.escalatr_id as string;
}

/** What the worker would send for this delivery right now. */
export async function planFor(t: TestApp, deliveryId: string, now = t.clock.now()): Promise<DeliveryPlan> {
  const delivery = await t.store.db
    .selectFrom('deliveries')
    .selectAll()
    .where('id', '=', deliveryId)
    .executeTakeFirstOrThrow();
  const event = await t.store.db
    .selectFrom('events')
    .select(['id', 'name', 'body', 'created_at'])
    .where('id', '=', delivery.event_id)
    .executeTakeFirstOrThrow();
  return endpointTarget.plan(t.app.ctx, delivery, event, now);
}

/** Whether `standardwebhooks` accepts the planned request with this secret. Its tolerance check reads Date.now(). */
export function standardVerifies(secret: string, plan: DeliveryPlan, now: number): boolean {
  if (plan.kind !== 'http') throw new Error(`expected an http plan, got ${plan.kind}`);
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(now);
  try {
    new Webhook(secret).verify(plan.body, plan.headers);
    return true;
  } catch {
    return false;
  } finally {
    vi.useRealTimers();
  }
}

/** Plays the worker's part for a test: records one attempt and moves the delivery to `status`. */
export async function recordAttempt(
  t: TestApp,
  deliveryId: string,
  status: 'success' | 'failed' | 'dead',
  opts: { statusCode?: number | null; errorKind?: string | null; at?: number } = {},
) {
  const db = t.store.db;
  const d = await db.selectFrom('deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
  const n = Number(d.attempt_count) + 1;
  const at = opts.at ?? t.clock.now();
  const statusCode = opts.statusCode === undefined ? (status === 'success' ? 200 : 500) : opts.statusCode;
  const errorKind = status === 'success' ? null : opts.errorKind === undefined ? 'http_status' : opts.errorKind;
  await db
    .insertInto('attempts')
    .values({
      id: `att_${deliveryId.slice(4)}${n}`,
      delivery_id: deliveryId,
      company_id: d.company_id,
      n,
      started_at: at,
      duration_ms: 12,
      status_code: statusCode,
      error_kind: errorKind,
      error_message: errorKind ? `HTTP ${statusCode}` : null,
      response_excerpt: status === 'success' ? 'ok' : 'boom',
    })
    .execute();
  await db
    .updateTable('deliveries')
    .set({
      status,
      attempt_count: n,
      next_attempt_at: status === 'failed' ? at + 60_000 : null,
      last_status_code: statusCode,
      last_error: errorKind ? `HTTP ${statusCode}` : null,
      updated_at: at,
    })
    .where('id', '=', deliveryId)
    .execute();
  await db.updateTable('events').set({ delivery_status: status }).where('id', '=', d.event_id).execute();
}
