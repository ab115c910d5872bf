import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/harness.js';

/** Sends raw bytes to the server and reads everything it answers until it closes the connection. */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    // A connection the server drops unanswered may end in a reset rather than a close: either way, what came back.
    socket.on('error', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

function parsed(raw: string) {
  const [head, body] = raw.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), head, body: JSON.parse(body) };
}

/** Requests the HTTP parser refuses before any route sees them still get the API's error envelope and a code. */
describe('HTTP: requests refused by the parser', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.http.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.http.server.address() as AddressInfo).port;
  });
  afterAll(async () => t.close());

  it('headers past the size the server reads: 431 headers_too_large', async () => {
    const raw = await exchange(
      port,
      `GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer esc_${'A'.repeat(20_000)}\r\n\r\n`,
    );
    const r = parsed(raw);
    expect(r.status).toBe(431);
    expect(r.head).toMatch(/content-type: application\/json/i);
    expect(r.body).toEqual({
      success: false,
      error: { code: 'headers_too_large', message: expect.stringMatching(/headers/) },
    });
  });

  it('a URL past that size: the same answer', async () => {
    const r = parsed(
      await exchange(port, `GET /api/v1/complaints?q=${'x'.repeat(100_000)} HTTP/1.1\r\nHost: a\r\n\r\n`),
    );
    expect(r.status).toBe(431);
    expect(r.body.error.code).toBe('headers_too_large');
  });

  it('bytes that are not HTTP: 400 invalid_request', async () => {
    const r = parsed(await exchange(port, 'HELLO THERE\r\n\r\n'));
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      success: false,
      error: { code: 'invalid_request', message: 'The request is not valid HTTP' },
    });
  });

  it('a client has a bounded time to send its request (the server is built with one)', () => {
    expect(t.app.http.server.requestTimeout).toBe(120_000);
  });

  it('the server goes on answering afterwards', async () => {
    const r = parsed(await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
    expect(r.status).toBe(200);
  });
});

describe('HTTP: open connections are capped', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp({ config: { maxConnections: 2 } });
    await t.app.http.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.http.server.address() as AddressInfo).port;
  });
  afterAll(async () => t.close());

  it('past ESCALATR_MAX_CONNECTIONS a new connection is closed unanswered; once one closes, the next is served', async () => {
    const open = () =>
      new Promise<Socket>((resolve) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
      });
    const idle = [await open(), await open()];
    // The third is accepted by the kernel and closed by the server at once, with nothing written.
    expect(await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toBe('');
    await new Promise((resolve) => {
      idle[0].once('close', resolve);
      idle[0].destroy();
    });
    await expect
      .poll(async () => exchange(port, 'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))
      .toMatch(/^HTTP\/1.1 200/);
    idle[1].destroy();
  });
});
