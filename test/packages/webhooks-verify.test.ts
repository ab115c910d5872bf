import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createReplayGuard,
  expressWebhook,
  fastifyWebhook,
  verifyWebhook,
  WebhookVerificationError,
  type VerifiedWebhook,
} from '@escalatr/webhooks';
import { ManualClock } from '../../src/clock.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';

/** The verification error's code, or null when `fn` does not throw one. */
function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof WebhookVerificationError) return err.code;
    throw err;
  }
}

describe('@escalatr/webhooks verifies real deliveries', () => {
  let t: TestApp;
  let w: RunningWorker;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  const closers: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    // Timestamps are checked against the receiver's clock, so the engine's clock starts at real time.
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    tenant = await seedTenant(t);
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    for (const close of closers.splice(0)) await close();
    await t.close();
  });

  const now = () => t.clock.now();

  async function fileComplaint(): Promise<string> {
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(tenant.consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'Consumer Durables', title: 'Fridge', description: 'Warm' },
    });
    expect(res.statusCode).toBe(201);
    return res.json().data.escalatr_id;
  }

  /** A loopback receiver that records raw requests, with an endpoint of VOLT's pointing at it. */
  async function capture(): Promise<{ rx: Receiver; secret: string; endpointId: string }> {
    const rx = await startReceiver();
    closers.push(() => rx.close());
    const ep = await addEndpoint(t, tenant.company.id, rx.url);
    return { rx, secret: ep.secret, endpointId: ep.id };
  }

  it('an Express receiver with the middleware accepts a real delivery and refuses a replay of it', async () => {
    const received: VerifiedWebhook[] = [];
    const guard = createReplayGuard();
    const app = express();
    let secret = '';
    app.post(
      '/hooks',
      (req, res, next) => expressWebhook({ secret, now, replayGuard: guard })(req, res, next),
      (req, res) => {
        received.push((req as unknown as { webhook: VerifiedWebhook }).webhook);
        res.json({ ok: true, event: (req.body as { event: string }).event });
      },
    );
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    const ep = await addEndpoint(t, tenant.company.id, url);
    secret = ep.secret;

    const escalatrId = await fileComplaint();
    expect(await w.worker.drain()).toBe(1);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      scheme: 'standard',
      event: 'complaint.created',
      payload: { event: 'complaint.created', data: { escalatr_id: escalatrId } },
    });
    const delivery = await t.store.db
      .selectFrom('deliveries')
      .select(['status', 'idempotency_key'])
      .where('endpoint_id', '=', ep.id)
      .executeTakeFirstOrThrow();
    expect(delivery.status).toBe('success');
    expect(received[0].idempotencyKey).toBe(delivery.idempotency_key);

    // The same request captured and sent again: refused by the replay guard, with a code.
    const { rx, secret: captureSecret } = await capture();
    await fileComplaint();
    await w.worker.drain();
    const [captured] = await rx.waitFor(1);
    const sentAgain = (headers: Record<string, string>) =>
      fetch(url, { method: 'POST', headers, body: new Uint8Array(captured.body) });
    const headers = Object.fromEntries(
      Object.entries(captured.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)),
    ) as Record<string, string>;
    secret = captureSecret;
    const first = await sentAgain(headers);
    expect(first.status).toBe(200);
    const replay = await sentAgain(headers);
    expect(replay.status).toBe(400);
    expect((await replay.json()).error.code).toBe('replayed');

    // A tampered body is refused before the handler runs.
    const tampered = await fetch(url, {
      method: 'POST',
      headers,
      body: captured.body.toString('utf8').replace('complaint.created', 'complaint.resolved'),
    });
    expect(tampered.status).toBe(400);
    expect((await tampered.json()).error.code).toBe('invalid_signature');

    // A body over the limit is refused with its own code and not kept in memory.
    const huge = await fetch(url, { method: 'POST', headers, body: 'x'.repeat(2 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    expect((await huge.json()).error.code).toBe('body_too_large');
    expect(received).toHaveLength(3); // the two real deliveries and the first sending of the captured one
  });

  it('a Fastify receiver with the plugin gets the verified payload; other routes keep their JSON parser', async () => {
    const received: unknown[] = [];
    const app: FastifyInstance = Fastify();
    closers.push(() => app.close());
    let secret = '';
    await app.register(async (scope) => {
      await scope.register(fastifyWebhook, {
        get secret() {
          return secret;
        },
        now,
      });
      scope.post('/hooks', async (request) => {
        received.push(request.body);
        return { ok: true };
      });
    });
    app.post('/plain', async (request) => ({ echoed: request.body }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const ep = await addEndpoint(t, tenant.company.id, `${base}/hooks`);
    secret = ep.secret;

    await fileComplaint();
    expect(await w.worker.drain()).toBe(1);
    expect(received).toEqual([expect.objectContaining({ event: 'complaint.created' })]);

    const unsigned = await fetch(`${base}/hooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"event":"complaint.created"}',
    });
    expect(unsigned.status).toBe(400);
    expect((await unsigned.json()).error.code).toBe('missing_headers');
    const plain = await fetch(`${base}/plain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(await plain.json()).toEqual({ echoed: { a: 1 } });
  });

  it('refuses stale, future-dated, tampered and wrongly keyed deliveries with stable codes', async () => {
    const { rx, secret } = await capture();
    await fileComplaint();
    await w.worker.drain();
    const [req] = await rx.waitFor(1);
    const sentAt = Number(req.headers['webhook-timestamp']) * 1000;

    expect(verifyWebhook(req.body, req.headers, secret, { now }).payload).toMatchObject({ event: 'complaint.created' });
    expect(codeOf(() => verifyWebhook(req.body, req.headers, secret, { now: () => sentAt + 301_000 }))).toBe(
      'timestamp_too_old',
    );
    expect(
      codeOf(() =>
        verifyWebhook(req.body, req.headers, secret, { now: () => sentAt + 3_600_000, toleranceSeconds: 7200 }),
      ),
    ).toBeNull();
    expect(codeOf(() => verifyWebhook(req.body, req.headers, secret, { now: () => sentAt - 301_000 }))).toBe(
      'timestamp_too_new',
    );
    const tampered = Buffer.from(req.body.toString('utf8').replace(/}$/, ',"status":"Resolved"}'));
    expect(codeOf(() => verifyWebhook(tampered, req.headers, secret, { now }))).toBe('invalid_signature');
    const otherSecret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    expect(codeOf(() => verifyWebhook(req.body, req.headers, otherSecret, { now }))).toBe('invalid_signature');
    // Parsed JSON is not the signed bytes: the helper says so instead of failing the signature.
    expect(codeOf(() => verifyWebhook(JSON.parse(req.body.toString()) as never, req.headers, secret, { now }))).toBe(
      'invalid_body',
    );
    expect(codeOf(() => verifyWebhook(req.body, req.headers, '', { now }))).toBe('invalid_secret');

    // The hex scheme alone (what a receiver written from the published Node example checks).
    const hexOnly = { 'x-escalatr-signature': String(req.headers['x-escalatr-signature']) };
    expect(verifyWebhook(req.body, hexOnly, secret).scheme).toBe('escalatr');
    expect(codeOf(() => verifyWebhook(tampered, hexOnly, secret))).toBe('invalid_signature');
    // Stripping the timestamped headers cannot downgrade a receiver that asks for Standard Webhooks.
    expect(codeOf(() => verifyWebhook(req.body, hexOnly, secret, { scheme: 'standard' }))).toBe('missing_headers');
    // A Fetch Headers object works the same as Node's header object.
    const fetchHeaders = new Headers(
      Object.entries(req.headers).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    expect(verifyWebhook(req.body, fetchHeaders, secret, { now }).scheme).toBe('standard');
  });

  it('during a rotation grace period a receiver still holding the old secret verifies both schemes', async () => {
    const { rx, secret: oldSecret, endpointId } = await capture();
    const res = await t.app.http.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${endpointId}/secret/regenerate`,
      headers: bearer(tenant.adminKey),
      payload: { grace_period_s: 3600 },
    });
    expect(res.statusCode).toBe(200);
    const newSecret: string = res.json().data.secret;
    await fileComplaint();
    await w.worker.drain();
    const [req] = await rx.waitFor(1);

    expect(verifyWebhook(req.body, req.headers, oldSecret, { now }).scheme).toBe('standard');
    expect(verifyWebhook(req.body, req.headers, newSecret, { now }).scheme).toBe('standard');
    expect(verifyWebhook(req.body, req.headers, oldSecret, { scheme: 'escalatr' }).scheme).toBe('escalatr');
    expect(verifyWebhook(req.body, req.headers, [newSecret, oldSecret], { scheme: 'escalatr' }).scheme).toBe(
      'escalatr',
    );
  });
});

describe('createReplayGuard', () => {
  it('forgets a delivery once its timestamp is outside the tolerance, and stays bounded', () => {
    const guard = createReplayGuard({ toleranceSeconds: 10, maxEntries: 3 });
    expect(guard.seen('a', 100, 100_000)).toBe(false);
    expect(guard.seen('a', 100, 105_000)).toBe(true);
    expect(guard.seen('b', 104, 105_000)).toBe(false);
    // At 111 s, "a" (sent at 100) is older than the tolerance: the timestamp check refuses it, so it is forgotten.
    expect(guard.seen('c', 111, 111_000)).toBe(false);
    expect(guard.size).toBe(2);
    for (const key of ['d', 'e', 'f']) guard.seen(key, 111, 111_000);
    expect(guard.size).toBeLessThanOrEqual(3);
  });
});
