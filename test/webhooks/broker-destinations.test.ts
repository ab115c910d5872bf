import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import amqp from 'amqplib';
import { connect as natsConnect, type NatsConnection } from 'nats';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { ManualClock } from '../../src/clock.js';
import { transact } from '../../src/domain/context.js';
import { emitEvent } from '../../src/domain/events.js';
import { sendTestEvent, updateEndpoint } from '../../src/webhooks/endpoints.js';
import { createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { BrokerSenders } from '../../src/webhooks/brokers/broker-sender.js';
import { SsrfGuard } from '../../src/webhooks/ssrf-guard.js';
import { selfSignedFor, startTlsNatsServer, startTlsProxy } from '../helpers/tls-brokers.js';

/**
 * Endpoints whose URL names a message broker, against the real brokers on 127.0.0.1 (RabbitMQ, NATS with JetStream,
 * Redis, Mosquitto): each publishes the signed body, retries on the delivery schedule and dies like an HTTP endpoint.
 */

const MIN = 60_000;
const LOOPBACK = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };
const unique = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

/** A port nothing listens on: bound once by us, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Accepts connections and never says a word: a broker that hangs. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function verify(secret: string, body: string, headers: Record<string, string>) {
  expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
  expect(() => new Webhook(secret).verify(body.replace('test', 'tset'), headers)).toThrow();
  expect(headers['x-escalatr-signature']).toMatch(/^[0-9a-f]{64}$/);
  expect(headers['x-escalatr-event']).toBe('webhook.test');
}

describe('broker destinations', () => {
  let t: TestApp;
  let w: RunningWorker;
  let companyId: string;

  beforeEach(async () => {
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    companyId = (await seedTenant(t)).company.id;
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await t.close();
  });

  /** One event to every endpoint of the company. */
  const emitToAll = () =>
    transact(t.app.ctx, (work) =>
      emitEvent(t.app.ctx, work, { companyId, name: 'webhook.test', data: { message: 'test' } }),
    );
  const deliveries = () => t.store.db.selectFrom('deliveries').selectAll().orderBy('created_at').execute();
  const attemptsOf = (deliveryId: string) =>
    t.store.db.selectFrom('attempts').selectAll().where('delivery_id', '=', deliveryId).orderBy('n').execute();

  it('AMQP: publishes with confirms and headers; a missing exchange is refused, then delivered once it exists', async () => {
    const exchange = unique('esc_ex');
    const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const ch = await conn.createChannel();
    try {
      const ep = await addEndpoint(t, companyId, `amqp://guest:guest@127.0.0.1:5672/${exchange}?routing_key=hooks`);
      // The password is sealed: neither the URL shown nor the stored one carries it.
      expect(ep.url).toBe(`amqp://guest@127.0.0.1/${exchange}?routing_key=hooks`);
      expect(ep.has_url_password).toBe(true);
      const row = await t.store.db.selectFrom('endpoints').selectAll().executeTakeFirstOrThrow();
      expect(row.url).not.toContain(':guest@');
      expect(row.url_password_enc).not.toContain('guest');

      await sendTestEvent(t.app.ctx, companyId, ep.id);
      expect(await w.worker.drain()).toBe(1);
      const [d1] = await deliveries();
      expect([d1.status, d1.next_attempt_at]).toEqual(['failed', t.clock.now() + MIN]);
      const [refused] = await attemptsOf(d1.id);
      expect(refused.error_kind).toBe('broker_rejected');
      expect(refused.response_excerpt).toContain('NOT_FOUND');

      await ch.assertExchange(exchange, 'direct', { autoDelete: false, durable: false });
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, exchange, 'hooks');
      t.clock.advance(MIN);
      expect(await w.worker.drain()).toBe(1);
      const [d2] = await deliveries();
      expect([d2.status, d2.attempt_count]).toEqual(['success', 2]);
      expect((await attemptsOf(d2.id))[1].response_excerpt).toBe('confirmed by the broker');

      // Confirmed means routed to the queue: it is there now.
      const msg = await ch.get(queue, { noAck: true });
      expect(msg).not.toBe(false);
      if (!msg) return;
      const headers = msg.properties.headers as Record<string, string>;
      const body = msg.content.toString();
      verify(ep.secret, body, headers);
      expect(msg.properties.contentType).toBe('application/json');
      expect(msg.properties.messageId).toBe(JSON.parse(body).id);
    } finally {
      await ch.deleteExchange(exchange).catch(() => {});
      await conn.close();
    }
  });

  it('AMQP: wrong credentials are a failed attempt that names them, without the password', async () => {
    const ep = await addEndpoint(t, companyId, 'amqp://guest:not-the-password@127.0.0.1:5672/amq.direct?routing_key=x');
    await sendTestEvent(t.app.ctx, companyId, ep.id);
    expect(await w.worker.drain()).toBe(1);
    const [d] = await deliveries();
    const [a] = await attemptsOf(d.id);
    expect([d.status, a.error_kind, a.error_message]).toEqual([
      'failed',
      'broker_auth',
      'the broker refused the credentials',
    ]);
    expect(JSON.stringify(a)).not.toContain('not-the-password');
  });

  it('NATS: acknowledged by the JetStream stream, headers carried; no stream for the subject is refused', async () => {
    const subject = unique('esc.hooks');
    const stream = unique('ESC');
    const nc: NatsConnection = await natsConnect({ servers: '127.0.0.1:4222' });
    const jsm = await nc.jetstreamManager();
    try {
      const ep = await addEndpoint(t, companyId, `nats://127.0.0.1:4222/${subject}`);
      await sendTestEvent(t.app.ctx, companyId, ep.id);
      expect(await w.worker.drain()).toBe(1);
      const [d1] = await deliveries();
      const [refused] = await attemptsOf(d1.id);
      expect([d1.status, refused.error_kind]).toEqual(['failed', 'broker_rejected']);

      await jsm.streams.add({ name: stream, subjects: [subject] });
      t.clock.advance(MIN);
      expect(await w.worker.drain()).toBe(1);
      const [d2] = await deliveries();
      expect([d2.status, d2.attempt_count]).toEqual(['success', 2]);
      expect((await attemptsOf(d2.id))[1].response_excerpt).toBe(`stream ${stream} seq 1`);

      const stored = await jsm.streams.getMessage(stream, { seq: 1 });
      const headers: Record<string, string> = {};
      for (const [name] of stored.header) headers[name] = stored.header.get(name);
      verify(ep.secret, stored.string(), headers);
    } finally {
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    }
  });

  it('Redis: XADD with a cap, headers as fields; a key of another type is refused until it is gone', async () => {
    const stream = unique('esc:hooks');
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    try {
      await redis.set(stream, 'not a stream');
      const ep = await addEndpoint(t, companyId, `redis://127.0.0.1:6379/${stream}?maxlen=100`);
      await sendTestEvent(t.app.ctx, companyId, ep.id);
      expect(await w.worker.drain()).toBe(1);
      const [d1] = await deliveries();
      const [refused] = await attemptsOf(d1.id);
      expect([d1.status, refused.error_kind]).toEqual(['failed', 'broker_rejected']);
      expect(refused.response_excerpt).toMatch(/^WRONGTYPE/);

      await redis.del(stream);
      t.clock.advance(MIN);
      expect(await w.worker.drain()).toBe(1);
      const [d2] = await deliveries();
      expect([d2.status, d2.attempt_count]).toEqual(['success', 2]);

      const entries = await redis.xrange(stream, '-', '+');
      expect(entries).toHaveLength(1);
      const [id, flat] = entries[0];
      expect((await attemptsOf(d2.id))[1].response_excerpt).toBe(`entry ${id}`);
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
      const { body, ...headers } = fields;
      verify(ep.secret, body, headers);
    } finally {
      await redis.del(stream);
      redis.disconnect();
    }
  });

  it('MQTT: QoS 1 with user properties; a broker that is down is a failed attempt, retried once it is reachable', async () => {
    const topic = `esc/${unique('hooks')}`;
    const sub = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { protocolVersion: 5, reconnectPeriod: 0 });
    try {
      await sub.subscribeAsync(topic, { qos: 1 });
      const received = new Promise<{ body: string; props: Record<string, string> }>((resolve) =>
        sub.on('message', (_topic, payload, packet) =>
          resolve({
            body: payload.toString(),
            props: (packet.properties?.userProperties ?? {}) as Record<string, string>,
          }),
        ),
      );
      const ep = await addEndpoint(t, companyId, `mqtt://127.0.0.1:${await closedPort()}/${topic}`);
      await sendTestEvent(t.app.ctx, companyId, ep.id);
      expect(await w.worker.drain()).toBe(1);
      const [d1] = await deliveries();
      expect([d1.status, (await attemptsOf(d1.id))[0].error_kind]).toEqual(['failed', 'connection_refused']);

      await updateEndpoint(t.app.ctx, companyId, ep.id, { url: `mqtt://127.0.0.1:1883/${topic}` }, LOOPBACK);
      t.clock.advance(MIN);
      expect(await w.worker.drain()).toBe(1);
      const [d2] = await deliveries();
      expect([d2.status, d2.attempt_count]).toEqual(['success', 2]);
      const { body, props } = await received;
      verify(ep.secret, body, props);
    } finally {
      await sub.endAsync();
    }
  });

  it('every type: nothing listening is a failed attempt each time, dead after the schedule', async () => {
    const port = await closedPort();
    const urls = [
      `amqp://127.0.0.1:${port}/ex`,
      `nats://127.0.0.1:${port}/s`,
      `redis://127.0.0.1:${port}/s`,
      `mqtt://127.0.0.1:${port}/t`,
    ];
    for (const url of urls) await addEndpoint(t, companyId, url);
    await emitToAll();
    expect(await w.worker.drain()).toBe(4);
    for (const gap of [MIN, 5 * MIN, 30 * MIN, 120 * MIN, 360 * MIN]) {
      t.clock.advance(gap);
      expect(await w.worker.drain()).toBe(4);
    }
    const all = await deliveries();
    expect(all.map((d) => [d.status, d.attempt_count])).toEqual(Array(4).fill(['dead', 6]));
    const kinds = await t.store.db.selectFrom('attempts').select('error_kind').distinct().execute();
    expect(kinds.map((k) => k.error_kind)).toEqual(['connection_refused']);
  });

  it('every type: a broker that accepts and never answers fails the attempt on its timeout', async () => {
    const silent = await silentServer();
    try {
      for (const url of ['amqp://HOST/x', 'nats://HOST/x', 'redis://HOST/x', 'mqtt://HOST/x'])
        await addEndpoint(t, companyId, url.replace('HOST', `127.0.0.1:${silent.port}`), { timeout_ms: 1000 });
      await emitToAll();
      expect(await w.worker.drain()).toBe(4);
      const kinds = await t.store.db.selectFrom('attempts').select('error_kind').execute();
      expect(kinds.map((k) => k.error_kind)).toEqual(Array(4).fill('timeout'));
    } finally {
      await silent.close();
    }
  });
});

describe('broker senders', () => {
  const message = { headers: { 'webhook-id': 'evt_1' }, body: '{"id":"evt_1"}', messageId: 'evt_1', timeoutMs: 2000 };

  it('applies the address guard to broker hosts: a name resolving to loopback is refused unless allow-listed', async () => {
    const toLoopback = async () => [{ address: '127.0.0.1', family: 4 }];
    const strict = new BrokerSenders(new SsrfGuard([]), { lookup: toLoopback });
    const open = new BrokerSenders(new SsrfGuard(['127.0.0.0/8']), { lookup: toLoopback });
    const stream = unique('esc:guard');
    try {
      for (const url of [`redis://broker.example.com/${stream}`, 'nats://127.0.0.1/s', 'amqp://[::1]/ex']) {
        const refused = await strict.send({ ...message, url, password: null });
        expect([url, refused.ok, refused.errorKind]).toEqual([url, false, 'ssrf_blocked']);
      }
      const allowed = await open.send({ ...message, url: `redis://broker.example.com/${stream}`, password: null });
      expect([allowed.ok, allowed.responseExcerpt]).toEqual([true, expect.stringMatching(/^entry \d+-\d+$/)]);
    } finally {
      await Promise.all([strict.close(), open.close()]);
      const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
      await redis.connect();
      await redis.del(stream);
      redis.disconnect();
    }
  });

  it('reuses one connection per destination across attempts, and closes them all on close', async () => {
    const senders = new BrokerSenders(new SsrfGuard(['127.0.0.0/8']));
    const subject = unique('esc.pool');
    const stream = unique('ESCPOOL');
    const nc = await natsConnect({ servers: '127.0.0.1:4222' });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [subject] });
    try {
      const url = `nats://127.0.0.1:4222/${subject}`;
      const sent = await Promise.all(
        ['evt_a', 'evt_b', 'evt_c'].map((id) => senders.send({ ...message, messageId: id, url, password: null })),
      );
      expect(sent.map((o) => o.ok)).toEqual([true, true, true]);
      expect(senders.openConnections).toBe(1);
      // The same message id again is stored once: JetStream says it is a duplicate, and it still counts as delivered.
      const again = await senders.send({ ...message, messageId: 'evt_a', url, password: null });
      expect([again.ok, again.responseExcerpt]).toEqual([true, expect.stringContaining('duplicate')]);
      expect((await jsm.streams.info(stream)).state.messages).toBe(3);
      await senders.close();
      expect(senders.openConnections).toBe(0);
      const afterClose = await senders.send({ ...message, url, password: null });
      expect(afterClose.ok).toBe(false);
    } finally {
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    }
  });
});

describe('broker senders over TLS: amqps, rediss and mqtts to the real brokers', () => {
  const message = { headers: { 'webhook-id': 'evt_1' }, body: '{"id":"evt_1"}', messageId: 'evt_1', timeoutMs: 5000 };
  // Every name is answered with loopback by the test: no DNS. The certificate is for broker.test only (no IP).
  const toLoopback = async () => [{ address: '127.0.0.1', family: 4 }];
  let pems: { key: string; cert: string };
  let proxies: Array<Awaited<ReturnType<typeof startTlsProxy>>>;
  let amqpsPort: number;
  let redissPort: number;
  let mqttsPort: number;
  const senders: BrokerSenders[] = [];
  const sendersWith = (tls?: { ca?: string; rejectUnauthorized?: boolean }) => {
    const s = new BrokerSenders(new SsrfGuard(['127.0.0.0/8']), { lookup: toLoopback, tls });
    senders.push(s);
    return s;
  };

  beforeEach(async () => {
    pems = await selfSignedFor(['broker.test']);
    proxies = await Promise.all([5672, 6379, 1883].map((port) => startTlsProxy(port, pems)));
    [amqpsPort, redissPort, mqttsPort] = proxies.map((p) => p.port);
  });
  afterEach(async () => {
    await Promise.all(senders.splice(0).map((s) => s.close()));
    await Promise.all(proxies.map((p) => p.close()));
  });

  it('publishes through a verified TLS connection to each broker, which has the message', async () => {
    const sender = sendersWith({ ca: pems.cert });
    const queue = unique('esc_tls_q');
    const stream = unique('esc:tls');
    const topic = `esc/${unique('tls')}`;
    const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const ch = await conn.createChannel();
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    const sub = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { protocolVersion: 5, reconnectPeriod: 0 });
    try {
      await ch.assertQueue(queue, { exclusive: true });
      await sub.subscribeAsync(topic, { qos: 1 });
      const received = new Promise<string>((resolve) =>
        sub.on('message', (_t, payload) => resolve(payload.toString())),
      );

      const amqps = await sender.send({
        ...message,
        url: `amqps://guest@broker.test:${amqpsPort}/?routing_key=${queue}`,
        password: 'guest',
      });
      expect([amqps.ok, amqps.responseExcerpt]).toEqual([true, 'confirmed by the broker']);
      const msg = await ch.get(queue, { noAck: true });
      expect(msg && msg.content.toString()).toBe(message.body);

      const rediss = await sender.send({
        ...message,
        url: `rediss://broker.test:${redissPort}/${stream}`,
        password: null,
      });
      expect([rediss.ok, rediss.responseExcerpt]).toEqual([true, expect.stringMatching(/^entry \d+-\d+$/)]);
      expect(await redis.xlen(stream)).toBe(1);

      const mqtts = await sender.send({ ...message, url: `mqtts://broker.test:${mqttsPort}/${topic}`, password: null });
      expect(mqtts.ok).toBe(true);
      expect(await received).toBe(message.body);
      expect(sender.openConnections).toBe(3);
    } finally {
      await redis.del(stream);
      redis.disconnect();
      await sub.endAsync();
      await conn.close();
    }
  });

  it('NATS over TLS (tls://): acknowledged by JetStream through a verified connection; nats:// to it is refused', async () => {
    const server = await startTlsNatsServer(pems);
    const subject = unique('esc.tls');
    const stream = unique('ESCTLS');
    // The test's own client trusts the same certificate and checks it for the same name (passed on to Node's TLS).
    const adminTls = { ca: pems.cert, servername: 'broker.test' };
    const nc = await natsConnect({ servers: `127.0.0.1:${server.port}`, tls: adminTls });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: stream, subjects: [subject] });
      const url = `tls://broker.test:${server.port}/${subject}`;
      const sent = await sendersWith({ ca: pems.cert }).send({ ...message, url, password: null });
      expect([sent.ok, sent.responseExcerpt]).toEqual([true, expect.stringContaining(stream)]);
      expect((await jsm.streams.info(stream)).state.messages).toBe(1);

      const untrusted = await sendersWith().send({ ...message, url, password: null });
      expect([untrusted.ok, untrusted.errorKind]).toEqual([false, 'tls']);
      const otherName = await sendersWith({ ca: pems.cert }).send({
        ...message,
        url: url.replace('broker.test', 'other.test'),
        password: null,
      });
      expect([otherName.ok, otherName.errorKind]).toEqual([false, 'tls']);
      // nats:// means plain: a server that requires TLS refuses it rather than the client upgrading unasked.
      const plain = await sendersWith({ ca: pems.cert }).send({
        ...message,
        url: `nats://broker.test:${server.port}/${subject}`,
        password: null,
      });
      expect([plain.ok, plain.errorKind, plain.responseExcerpt]).toEqual([
        false,
        'broker_rejected',
        'the NATS server requires TLS: use a tls:// URL',
      ]);
      expect((await jsm.streams.info(stream)).state.messages).toBe(1);
    } finally {
      await nc.close();
      await server.close();
    }
  });

  it("an endpoint's rediss:// URL: the worker delivers the signed event over TLS, verified for the URL's host", async () => {
    const t = await createTestApp({ clock: new ManualClock(Date.now()) });
    const w = await testWorker(t, { tls: { ca: pems.cert }, lookup: toLoopback });
    const stream = unique('esc:tls');
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redis.connect();
    try {
      const companyId = (await seedTenant(t)).company.id;
      const ep = await addEndpoint(t, companyId, `rediss://broker.test:${redissPort}/${stream}`);
      expect(ep.url).toBe(`rediss://broker.test:${redissPort}/${stream}`);
      await sendTestEvent(t.app.ctx, companyId, ep.id);
      expect(await w.worker.drain()).toBe(1);
      const delivery = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
      expect(delivery.status).toBe('success');
      const [[, flat]] = await redis.xrange(stream, '-', '+');
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
      const { body, ...headers } = fields;
      verify(ep.secret, body, headers);
    } finally {
      await redis.del(stream);
      redis.disconnect();
      await w.stop();
      await t.close();
    }
  });

  it('refuses a certificate it cannot verify: untrusted, for another name, or with verification asked off', async () => {
    const stream = unique('esc:tls');
    const urls = [
      `amqps://guest@broker.test:${amqpsPort}/?routing_key=nowhere`,
      `rediss://broker.test:${redissPort}/${stream}`,
      `mqtts://broker.test:${mqttsPort}/esc/nowhere`,
    ];
    const passwordOf = (url: string) => (url.startsWith('amqps:') ? 'guest' : null);
    const untrusted = sendersWith();
    const offAsked = sendersWith({ rejectUnauthorized: false });
    for (const url of urls) {
      for (const sender of [untrusted, offAsked]) {
        const o = await sender.send({ ...message, url, password: passwordOf(url) });
        expect([url, o.ok, o.errorKind]).toEqual([url, false, 'tls']);
      }
      // Trusted, but the URL names a host the certificate is not for (dialled at the same address).
      const o = await sendersWith({ ca: pems.cert }).send({
        ...message,
        url: url.replace('broker.test', 'other.test'),
        password: passwordOf(url),
      });
      expect([url, o.ok, o.errorKind]).toEqual([url, false, 'tls']);
      expect(o.detail).toMatch(/altname|does not match|other\.test/i);
    }
    // Plain amqp, redis and mqtt to the TLS port are not TLS: they fail rather than fall back.
    const plain = await sendersWith({ ca: pems.cert }).send({
      ...message,
      url: `redis://broker.test:${redissPort}/${stream}`,
      password: null,
    });
    expect(plain.ok).toBe(false);
  });
});
