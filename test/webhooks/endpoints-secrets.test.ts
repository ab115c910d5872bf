import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialectName } from '../helpers/harness.js';
import { createEndpoint, planFor, setupWebhooks, standardVerifies } from './endpoints-helpers.js';
import type { HttpRequestPlan } from '../../src/webhooks/targets.js';

type Setup = Awaited<ReturnType<typeof setupWebhooks>>;

const seedSignature = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');

async function testDelivery(s: Setup, endpointId: string): Promise<string> {
  const res = await s.api.post(`/webhooks/${endpointId}/test`, { message: 'hello' });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

async function httpPlan(s: Setup, deliveryId: string): Promise<HttpRequestPlan> {
  const plan = await planFor(s.t, deliveryId);
  if (plan.kind !== 'http') throw new Error(`expected an http plan, got ${JSON.stringify(plan)}`);
  return plan;
}

describe('endpoint secrets', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setupWebhooks();
  });
  afterEach(async () => s.t.close());

  it('reveals the secret given at creation', async () => {
    const ep = await createEndpoint(s.api);
    const res = await s.api.get(`/webhooks/${ep.id}/secret`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ secret: ep.secret });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('plans the delivery: stored body bytes, every header, verifiable by the seed recipe and standardwebhooks', async () => {
    const ep = await createEndpoint(s.api, { timeout_ms: 4321, auth: { type: 'bearer', token: 'tok-abc-123' } });
    const id = await testDelivery(s, ep.id);
    const delivery = await s.t.store.db
      .selectFrom('deliveries')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const event = await s.t.store.db
      .selectFrom('events')
      .selectAll()
      .where('id', '=', delivery.event_id)
      .executeTakeFirstOrThrow();
    const plan = await httpPlan(s, id);
    expect(plan.url).toBe(ep.url);
    expect(plan.body).toBe(event.body);
    expect(plan.timeoutMs).toBe(4321);
    expect(plan.headers).toMatchObject({
      'Content-Type': 'application/json',
      'User-Agent': 'Escalatr-Webhooks/1.0',
      'X-Escalatr-Event': 'webhook.test',
      'X-Escalatr-Signature': seedSignature(ep.secret, event.body),
      'Idempotency-Key': delivery.idempotency_key,
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(s.t.clock.now() / 1000)),
      Authorization: 'Bearer tok-abc-123',
    });
    expect(plan.headers['X-Escalatr-Signature-Previous']).toBeUndefined();
    expect(standardVerifies(ep.secret, plan, s.t.clock.now())).toBe(true);
    expect(JSON.parse(plan.body)).toMatchObject({
      id: event.id,
      event: 'webhook.test',
      data: { message: 'hello', endpoint_id: ep.id },
    });
  });

  it('puts the configured credential in the right header', async () => {
    const apiKey = await createEndpoint(s.api, { auth: { type: 'api_key', token: 'k-1' } });
    const custom = await createEndpoint(s.api, {
      auth: { type: 'custom_header', header_name: 'X-Hook-Auth', token: 'c-2' },
    });
    expect((await httpPlan(s, await testDelivery(s, apiKey.id))).headers['X-API-Key']).toBe('k-1');
    const plan = await httpPlan(s, await testDelivery(s, custom.id));
    expect(plan.headers['X-Hook-Auth']).toBe('c-2');
    expect(plan.headers.Authorization).toBeUndefined();
  });

  it('regenerate without grace: only the new secret signs, at once', async () => {
    const ep = await createEndpoint(s.api);
    const id = await testDelivery(s, ep.id);
    const res = await s.api.post(`/webhooks/${ep.id}/secret/regenerate`, {});
    expect(res.status).toBe(200);
    const fresh = res.body.data.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(ep.secret);
    expect(res.body.data.previous_secret_expires_at).toBeNull();
    expect((await s.api.get(`/webhooks/${ep.id}/secret`)).body.data.secret).toBe(fresh);

    // The delivery written before the rotation is signed with the new secret on its next attempt.
    const plan = await httpPlan(s, id);
    const now = s.t.clock.now();
    expect(standardVerifies(fresh, plan, now)).toBe(true);
    expect(standardVerifies(ep.secret, plan, now)).toBe(false);
    expect(plan.headers['X-Escalatr-Signature']).toBe(seedSignature(fresh, plan.body));
    expect(plan.headers['X-Escalatr-Signature-Previous']).toBeUndefined();
    expect(plan.headers['webhook-signature'].split(' ')).toHaveLength(1);
  });

  it('regenerate with a grace period: both secrets sign until it ends, then only the new one', async () => {
    const ep = await createEndpoint(s.api);
    const res = await s.api.post(`/webhooks/${ep.id}/secret/regenerate`, { grace_period_s: 3600 });
    const fresh = res.body.data.secret as string;
    expect(res.body.data.previous_secret_expires_at).toBe(new Date(s.t.clock.now() + 3600_000).toISOString());
    expect((await s.api.get(`/webhooks/${ep.id}`)).body.data.previous_secret_expires_at).toBe(
      res.body.data.previous_secret_expires_at,
    );

    const id = await testDelivery(s, ep.id);
    s.t.clock.advance(3599_000);
    let plan = await httpPlan(s, id);
    let now = s.t.clock.now();
    expect(standardVerifies(fresh, plan, now)).toBe(true);
    expect(standardVerifies(ep.secret, plan, now)).toBe(true);
    expect(plan.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(plan.headers['X-Escalatr-Signature']).toBe(seedSignature(fresh, plan.body));
    expect(plan.headers['X-Escalatr-Signature-Previous']).toBe(seedSignature(ep.secret, plan.body));

    s.t.clock.advance(1000); // the grace period has ended
    plan = await httpPlan(s, id);
    now = s.t.clock.now();
    expect(standardVerifies(fresh, plan, now)).toBe(true);
    expect(standardVerifies(ep.secret, plan, now)).toBe(false);
    expect(plan.headers['X-Escalatr-Signature-Previous']).toBeUndefined();
    expect((await s.api.get(`/webhooks/${ep.id}`)).body.data.previous_secret_expires_at).toBeNull();
  });

  it('a second regeneration without grace ends the previous grace period at once', async () => {
    const ep = await createEndpoint(s.api);
    const first = (await s.api.post(`/webhooks/${ep.id}/secret/regenerate`, { grace_period_s: 86400 })).body.data
      .secret;
    const second = (await s.api.post(`/webhooks/${ep.id}/secret/regenerate`, { grace_period_s: 0 })).body.data.secret;
    const plan = await httpPlan(s, await testDelivery(s, ep.id));
    const now = s.t.clock.now();
    expect(standardVerifies(second, plan, now)).toBe(true);
    expect(standardVerifies(first, plan, now)).toBe(false);
    expect(standardVerifies(ep.secret, plan, now)).toBe(false);
  });

  it('plans a skip for a disabled or deleted endpoint', async () => {
    const ep = await createEndpoint(s.api);
    const id = await testDelivery(s, ep.id);
    await s.api.patch(`/webhooks/${ep.id}`, { enabled: false });
    expect(await planFor(s.t, id)).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/disabled/) });
    await s.api.delete(`/webhooks/${ep.id}`);
    expect(await planFor(s.t, id)).toEqual({ kind: 'skip', reason: 'endpoint deleted' });
  });

  it('stores secrets and credentials only sealed: no plaintext anywhere in the database', async () => {
    const token = 'bearer-token-PLAINTEXT-4242';
    const ep = await createEndpoint(s.api, { auth: { type: 'bearer', token } });
    const rotated = (await s.api.post(`/webhooks/${ep.id}/secret/regenerate`, { grace_period_s: 600 })).body.data
      .secret as string;
    const custom = await createEndpoint(s.api, {
      auth: { type: 'custom_header', header_name: 'X-K', token: 'custom-PLAINTEXT-77' },
    });
    const needles = [ep.secret, rotated, custom.secret, token, 'custom-PLAINTEXT-77'];

    // Every row of every table, as text.
    const tables = [
      'companies',
      'users',
      'sessions',
      'consumers',
      'consumer_tokens',
      'api_keys',
      'events',
      'endpoints',
      'deliveries',
      'attempts',
    ] as const;
    for (const table of tables) {
      const rows = await s.t.store.db.selectFrom(table).selectAll().execute();
      const text = JSON.stringify(rows);
      for (const needle of needles) expect(text, table).not.toContain(needle);
    }

    if (dialectName === 'sqlite') {
      // The raw bytes of the database file and its WAL, where the most recent pages live.
      const file = s.t.store.sqliteFile!;
      const bytes = Buffer.concat(readdirSync(dirname(file)).map((name) => readFileSync(join(dirname(file), name))));
      expect(bytes.length).toBeGreaterThan(0);
      for (const needle of needles) {
        expect(bytes.includes(Buffer.from(needle)), 'plaintext in the SQLite file').toBe(false);
        expect(
          bytes.includes(Buffer.from(needle.replace('whsec_', ''))),
          'secret key material in the SQLite file',
        ).toBe(false);
      }
      // The check can see what it looks for: the non-secret URL is there.
      expect(bytes.includes(Buffer.from('hooks.example.com'))).toBe(true);
    }
  });
});
