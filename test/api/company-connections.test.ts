import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, DEFAULT_COMPANY_LIMITS, seedTenant, type TestApp } from '../helpers/harness.js';

describe("connections kept open for a company's next requests", () => {
  let t: TestApp;
  let volt: Awaited<ReturnType<typeof seedTenant>>;
  let acme: Awaited<ReturnType<typeof seedTenant>>;
  let port: number;
  const sockets: Socket[] = [];
  beforeEach(async () => {
    t = await createTestApp({
      config: { rateLimitPerMin: 2, companyLimits: { ...DEFAULT_COMPANY_LIMITS, connections: 2 } },
    });
    volt = await seedTenant(t, { code: 'VOLT' });
    acme = await seedTenant(t, { code: 'ACME' });
    await t.app.http.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.http.server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await t.close();
  });

  /** Opens a connection and sends one GET on it; resolves with the answer's head and whether the server closed it. */
  const getOn = (key: string) =>
    new Promise<{ head: string; socket: Socket; closed: Promise<void> }>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(`GET /api/v1/complaints HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${key}\r\n\r\n`),
      );
      sockets.push(socket);
      socket.on('error', () => undefined);
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk;
        const end = answer.indexOf('\r\n\r\n');
        if (end >= 0) resolve({ head: answer.slice(0, end).toLowerCase(), socket, closed });
      });
    });

  it("ends a company's connections past its share with their answer, and keeps others'", async () => {
    const first = await getOn(volt.readKey);
    const second = await getOn(volt.adminKey);
    expect(first.head).toMatch(/^http\/1\.1 200/);
    expect(first.head).toContain('connection: keep-alive');
    expect(second.head).toContain('connection: keep-alive');
    // A third connection of the same company is answered, and ended.
    const third = await getOn(volt.readKey);
    expect(third.head).toMatch(/^http\/1\.1 200/);
    expect(third.head).toContain('connection: close');
    await third.closed;
    // Another company's connections are its own.
    expect((await getOn(acme.readKey)).head).toContain('connection: keep-alive');
    // Once a kept connection ends, the company may keep another.
    first.socket.destroy();
    await first.closed;
    let again = await getOn(acme.adminKey);
    expect(again.head).toContain('connection: keep-alive');
    again = await getOn(volt.adminKey);
    expect(again.head).toMatch(/^http\/1\.1 200/);
    expect(again.head).toContain('connection: keep-alive');
  });

  it('ends a connection whose request was refused for a limit, though the company has room', async () => {
    // One connection, three requests one after another: the key may make two a minute.
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => undefined);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let buffered = '';
    socket.on('data', (chunk) => (buffered += chunk));
    const next = async () => {
      socket.write(`GET /api/v1/complaints HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${volt.readKey}\r\n\r\n`);
      // Answers carry a body with its length; the head is enough here, and each is read before the next is sent.
      while (!/\r\n\r\n/.test(buffered)) await new Promise((resolve) => setImmediate(resolve));
      const head = buffered.slice(0, buffered.indexOf('\r\n\r\n')).toLowerCase();
      const length = Number(/content-length: (\d+)/.exec(head)?.[1] ?? 0);
      while (Buffer.byteLength(buffered) < Buffer.byteLength(head) + 4 + length)
        await new Promise((resolve) => setImmediate(resolve));
      buffered = '';
      return head;
    };
    expect(await next()).toContain('connection: keep-alive');
    expect(await next()).toContain('connection: keep-alive');
    const refused = await next();
    expect(refused).toMatch(/^http\/1\.1 429/);
    expect(refused).toContain('connection: close');
    await closed;
  });
});
