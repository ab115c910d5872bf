import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import amqp from 'amqplib';
import { connect as natsConnect } from 'nats';
import { Redis } from 'ioredis';
import { ManualClock } from '../../src/clock.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import {
  createAutomationOk,
  EXTREME,
  postAutomation,
  postFeedback,
  processorFor,
  record,
  shieldWorker,
} from './shield-helpers.js';

/**
 * Shield automations whose destination is a message broker, against the real brokers on 127.0.0.1: the alert body a
 * webhook destination POSTs, signed, with the signature headers as message headers; retries and `dead` as for HTTP.
 */

const MIN = 60_000;
const unique = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

/** A port nothing listens on: bound once by us, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Shield alerts to broker destinations', () => {
  let t: TestApp;
  let w: RunningWorker;
  let volt: Awaited<ReturnType<typeof seedTenant>>;

  beforeEach(async () => {
    // Standard Webhooks verification compares the timestamp with real time.
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    volt = await seedTenant(t, { code: 'VOLT' });
    w = await shieldWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await t.close();
  });

  const api = (method: 'GET' | 'PATCH', url: string, payload?: object) =>
    t.app.http.inject({
      method,
      url: `/api/v1${url}`,
      headers: bearer(volt.adminKey),
      ...(payload ? { payload } : {}),
    });
  const deliveries = () => t.store.db.selectFrom('deliveries').selectAll().orderBy('created_at').execute();
  const attemptsOf = (deliveryId: string) =>
    t.store.db.selectFrom('attempts').selectAll().where('delivery_id', '=', deliveryId).orderBy('n').execute();

  async function alert(recordId: string): Promise<string> {
    expect((await postFeedback(t, volt.adminKey, record(recordId, EXTREME))).statusCode).toBe(202);
    expect(await processorFor(t).tick()).toMatchObject({ alerts: 1 });
    const event = await t.store.db
      .selectFrom('events')
      .select('body')
      .where('name', '=', 'shield.alert')
      .executeTakeFirstOrThrow();
    return JSON.stringify(JSON.parse(event.body).data);
  }

  async function secretOf(automationId: string, destinationId: string): Promise<string> {
    const res = await api('GET', `/automations/${automationId}/destinations/${destinationId}/secret`);
    expect(res.statusCode).toBe(200);
    return res.json().data.secret;
  }

  function verify(secret: string, expectedBody: string, body: string, headers: Record<string, string>, key: string) {
    expect(body).toBe(expectedBody);
    expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(secret).verify(body.replace('VOLT', 'VOLX'), headers)).toThrow();
    expect(headers['x-escalatr-signature']).toMatch(/^[0-9a-f]{64}$/);
    expect(headers['x-escalatr-event']).toBe('shield.alert');
    expect(headers['idempotency-key']).toBe(key);
  }

  it('AMQP and Redis: the alert arrives with its body and signature headers; the password is sealed, never shown', async () => {
    const exchange = unique('esc_shield');
    const stream = unique('esc:shield');
    const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const ch = await conn.createChannel();
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    try {
      await ch.assertExchange(exchange, 'direct', { autoDelete: false, durable: false });
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, exchange, 'alerts');

      const automation = await createAutomationOk(t, volt.adminKey, {
        destinations: [
          { type: 'broker', url: `amqp://guest:guest@127.0.0.1:5672/${exchange}?routing_key=alerts` },
          { type: 'broker', url: `redis://127.0.0.1:6379/${stream}?maxlen=100`, timeout_ms: 3000 },
        ],
      });
      const [toAmqp, toRedis] = automation.destinations;
      expect(toAmqp).toEqual({
        id: expect.any(String),
        type: 'broker',
        // Stored without the scheme's own port, as https:// URLs are.
        url: `amqp://guest@127.0.0.1/${exchange}?routing_key=alerts`,
        has_url_password: true,
        timeout_ms: 5000,
      });
      expect(toRedis).toMatchObject({ has_url_password: false, timeout_ms: 3000 });
      expect(JSON.stringify((await api('GET', `/automations/${automation.id}`)).json())).not.toContain(':guest@');

      const body = await alert('r-1');
      const rows = await deliveries();
      expect(rows.map((d) => d.target)).toEqual(['broker', 'broker']);
      expect(await w.worker.drain()).toBe(2);
      const done = await deliveries();
      expect(done.map((d) => [d.status, d.attempt_count])).toEqual([
        ['success', 1],
        ['success', 1],
      ]);

      const amqpAttempt = (await attemptsOf(done.find((d) => d.destination_id === toAmqp.id)!.id))[0];
      expect(amqpAttempt.response_excerpt).toBe('confirmed by the broker');
      const msg = await ch.get(queue, { noAck: true });
      expect(msg).not.toBe(false);
      if (!msg) return;
      const amqpKey = `${automation.id}:${toAmqp.id}:r-1`;
      verify(
        await secretOf(automation.id, toAmqp.id),
        body,
        msg.content.toString(),
        msg.properties.headers as Record<string, string>,
        amqpKey,
      );
      expect(msg.properties.contentType).toBe('application/json');
      expect(msg.properties.messageId).toBe(amqpKey);

      const entries = await redis.xrange(stream, '-', '+');
      expect(entries).toHaveLength(1);
      const [entryId, flat] = entries[0];
      const redisAttempt = (await attemptsOf(done.find((d) => d.destination_id === toRedis.id)!.id))[0];
      expect(redisAttempt.response_excerpt).toBe(`entry ${entryId}`);
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
      const { body: sent, ...headers } = fields;
      verify(await secretOf(automation.id, toRedis.id), body, sent, headers, `${automation.id}:${toRedis.id}:r-1`);
    } finally {
      await ch.deleteExchange(exchange).catch(() => {});
      await conn.close();
      await redis.del(stream);
      redis.disconnect();
    }
  });

  it('NATS: stored by the JetStream stream with the alert body and headers', async () => {
    const subject = unique('esc.shield');
    const streamName = unique('ESCSHIELD');
    const nc = await natsConnect({ servers: '127.0.0.1:4222' });
    const jsm = await nc.jetstreamManager();
    try {
      await jsm.streams.add({ name: streamName, subjects: [subject] });
      const automation = await createAutomationOk(t, volt.adminKey, {
        destinations: [{ type: 'broker', url: `nats://127.0.0.1:4222/${subject}` }],
      });
      const dest = automation.destinations[0];
      const body = await alert('r-2');
      expect(await w.worker.drain()).toBe(1);
      const [d] = await deliveries();
      expect(d.status).toBe('success');
      expect((await attemptsOf(d.id))[0].response_excerpt).toBe(`stream ${streamName} seq 1`);
      const stored = await jsm.streams.getMessage(streamName, { seq: 1 });
      const headers: Record<string, string> = {};
      for (const [name] of stored.header) headers[name] = stored.header.get(name);
      verify(await secretOf(automation.id, dest.id), body, stored.string(), headers, `${automation.id}:${dest.id}:r-2`);
    } finally {
      await jsm.streams.delete(streamName).catch(() => {});
      await nc.close();
    }
  });

  it('refuses a bad broker URL with 400 invalid_url and stores nothing', async () => {
    const bad = [
      'https://example.com/hooks', // http belongs to the webhook type
      'ftp://127.0.0.1/x',
      'nats://127.0.0.1:4222/alerts.*', // a wildcard subject
      'amqp://127.0.0.1:5672/ex?priority=9', // an unknown setting
      'redis://127.0.0.1:6379/', // no stream
      'mqtt://10.0.0.5:1883/alerts', // a private address outside the allow-list
    ];
    for (const url of bad) {
      const res = await postAutomation(t, volt.adminKey, {
        name: 'Bad',
        filter: { min_level: 'high' },
        destinations: [{ type: 'broker', url }],
      });
      expect([url, res.statusCode, res.json().error.code]).toEqual([url, 400, 'invalid_url']);
      expect(res.json().error.details.field).toBe('destinations[0].url');
    }
    const extra = await postAutomation(t, volt.adminKey, {
      name: 'Bad',
      filter: { min_level: 'high' },
      destinations: [{ type: 'broker', url: 'redis://127.0.0.1/s', auth: { type: 'bearer', token: 'abcdef' } }],
    });
    expect([extra.statusCode, extra.json().error.code]).toEqual([400, 'validation_failed']);
    expect(await t.store.db.selectFrom('automations').selectAll().execute()).toEqual([]);
    expect(await t.store.db.selectFrom('destinations').selectAll().execute()).toEqual([]);
  });

  it('an edit without the password keeps it for the same host and port only', async () => {
    const automation = await createAutomationOk(t, volt.adminKey, {
      destinations: [{ type: 'broker', url: 'amqp://app:s3cret@127.0.0.1:5672/ex' }],
    });
    const id = automation.destinations[0].id;
    const patch = (url: string) =>
      api('PATCH', `/automations/${automation.id}`, { destinations: [{ id, type: 'broker', url }] });
    const same = await patch('amqp://app@127.0.0.1:5672/other');
    expect(same.statusCode).toBe(200);
    expect(same.json().data.destinations[0]).toMatchObject({
      url: 'amqp://app@127.0.0.1/other',
      has_url_password: true,
    });
    const moved = await patch('amqp://app@127.0.0.1:5673/other');
    expect(moved.json().data.destinations[0]).toMatchObject({ has_url_password: false });
  });

  it('a broker that is not listening is a failed attempt each time, retried on the schedule until dead', async () => {
    const port = await closedPort();
    await createAutomationOk(t, volt.adminKey, {
      destinations: [
        { type: 'broker', url: `amqp://127.0.0.1:${port}/ex` },
        { type: 'broker', url: `mqtt://127.0.0.1:${port}/alerts` },
      ],
    });
    await alert('r-3');
    expect(await w.worker.drain()).toBe(2);
    const first = await deliveries();
    expect(first.map((d) => [d.status, d.next_attempt_at])).toEqual(Array(2).fill(['failed', t.clock.now() + MIN]));
    t.clock.advance(MIN);
    expect(await w.worker.drain()).toBe(2);
    expect((await deliveries()).map((d) => [d.status, d.attempt_count])).toEqual(Array(2).fill(['failed', 2]));
    for (const gap of [5 * MIN, 30 * MIN, 120 * MIN, 360 * MIN]) {
      t.clock.advance(gap);
      expect(await w.worker.drain()).toBe(2);
    }
    expect((await deliveries()).map((d) => [d.status, d.attempt_count])).toEqual(Array(2).fill(['dead', 6]));
    const attempts = await t.store.db.selectFrom('attempts').select(['error_kind', 'error_message']).execute();
    expect(attempts).toHaveLength(12);
    expect(new Set(attempts.map((a) => a.error_kind))).toEqual(new Set(['connection_refused']));
  });
});
