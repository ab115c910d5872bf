import { EventEmitter } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BodiesReceiving } from '../../src/api/bodies-receiving.js';
import { bearer, createTestApp, DEFAULT_COMPANY_LIMITS, seedTenant, type TestApp } from '../helpers/harness.js';
import { call, expectError } from './platform-fixtures.js';

describe('request bodies of a company being received at once', () => {
  const exchange = (headers: Record<string, string>) => {
    const raw = new EventEmitter();
    const replyRaw = new EventEmitter();
    return {
      request: { headers, raw } as unknown as FastifyRequest,
      reply: { raw: replyRaw } as unknown as FastifyReply,
      arrived: () => raw.emit('end'),
      closed: () => replyRaw.emit('close'),
    };
  };

  it('holds a place from headers until the body has arrived or the exchange ends, once', () => {
    const bodies = new BodiesReceiving(2);
    const a = exchange({ 'content-length': '10' });
    const b = exchange({ 'transfer-encoding': 'chunked' });
    bodies.admit('co', a.request, a.reply);
    bodies.admit('co', b.request, b.reply);
    const third = exchange({ 'content-length': '10' });
    expect(() => bodies.admit('co', third.request, third.reply)).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        details: { limit: 2, per: 'company_bodies', retry_after: 1 },
      }),
    );
    // Requests without a body, and other companies, take no place of this one's.
    for (const headers of [{}, { 'content-length': '0' }] as Array<Record<string, string>>) {
      const none = exchange(headers);
      bodies.admit('co', none.request, none.reply);
    }
    const other = exchange({ 'content-length': '10' });
    bodies.admit('other', other.request, other.reply);
    expect(bodies.receiving('co')).toBe(2);
    a.arrived();
    a.closed();
    expect(bodies.receiving('co')).toBe(1);
    // A connection that ends before its body has arrived frees its place too.
    b.closed();
    expect(bodies.receiving('co')).toBe(0);
  });
});

describe('a company holding connections with slow bodies', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  let port: number;
  const held: Socket[] = [];
  beforeEach(async () => {
    t = await createTestApp({ config: { companyLimits: { ...DEFAULT_COMPANY_LIMITS, bodiesReceiving: 1 } } });
    tenant = await seedTenant(t);
    await t.app.http.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.http.server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    for (const socket of held.splice(0)) socket.destroy();
    await t.close();
  });

  /** A POST whose body is announced as 1,000 bytes and of which 10 are sent: the server waits for the rest. */
  const holdSlowBody = () => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `POST /api/v1/api-keys HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${tenant.adminKey}\r\n` +
          `Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name": "`,
      ),
    );
    socket.on('error', () => undefined);
    held.push(socket);
    return socket;
  };
  // An invalid body: 400 once admitted (nothing is made), 429 while the company has no place left.
  const tryOne = () =>
    call(t, { method: 'POST', url: '/api/v1/api-keys', headers: bearer(tenant.adminKey), payload: { name: 42 } });

  /** The bodies being received, as /metrics shows them. */
  const receiving = async () => {
    const text = (await t.app.http.inject({ method: 'GET', url: '/metrics' })).body;
    return Number(/^escalatr_request_bodies_receiving (\S+)$/m.exec(text)?.[1]);
  };
  const untilReceiving = async (n: number) => {
    while ((await receiving()) !== n) await new Promise((resolve) => setImmediate(resolve));
  };

  it('refuses its next body before reading it, answers others, and admits again once the connection ends', async () => {
    expect((await tryOne()).status).toBe(400);
    expect(await receiving()).toBe(0);
    const slow = holdSlowBody();
    await untilReceiving(1);
    const refused = await tryOne();
    expectError(refused, 429, 'rate_limited');
    expect(refused.body.error.details).toMatchObject({ per: 'company_bodies', limit: 1 });
    expect(refused.headers['retry-after']).toBe('1');
    // Another slow body is refused at its headers, and its connection ends with the answer: the server does not wait
    // for the rest of a body it will never read.
    const extra = holdSlowBody();
    let answer = '';
    extra.on('data', (chunk) => (answer += chunk));
    await new Promise((resolve) => extra.once('close', resolve));
    expect(answer).toMatch(/^HTTP\/1\.1 429 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    // Another company, and the company's requests without a body, are answered.
    const other = await seedTenant(t, { code: 'ACME' });
    const list = (key: string) => call(t, { method: 'GET', url: '/api/v1/complaints', headers: bearer(key) });
    expect((await list(other.readKey)).status).toBe(200);
    expect((await list(tenant.readKey)).status).toBe(200);
    slow.destroy();
    await untilReceiving(0);
    expectError(await tryOne(), 400, 'validation_failed');
  });
});
