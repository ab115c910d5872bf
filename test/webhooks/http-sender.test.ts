import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher, type Agent } from 'undici';
import { classifyError, MAX_RETRY_AFTER_MS, parseRetryAfter, sendWebhook } from '../../src/webhooks/http-sender.js';
import type { AttemptOutcome } from '../../src/queue/attempt.js';
import { buildDeliveryHeaders, newWebhookSecret, signEscalatr } from '../../src/webhooks/signature.js';
import { createGuardedDispatcher, SsrfBlockedError, SsrfGuard, type LookupFn } from '../../src/webhooks/ssrf-guard.js';
import { isLoopbackTarget, loopbackOnlyNetwork } from '../helpers/loopback-only.js';
import { selfSignedFor } from '../helpers/tls-brokers.js';

const connectTargets = loopbackOnlyNetwork();

const SECRET_TOKEN = 'tok_live_SUPERSECRET_9f8e7d';
const secret = newWebhookSecret();
const body = JSON.stringify({
  id: 'evt_1',
  event: 'webhook.test',
  timestamp: new Date().toISOString(),
  data: { message: 'héllo' },
});
const headers = buildDeliveryHeaders({
  eventName: 'webhook.test',
  eventId: 'evt_1',
  body,
  secrets: [secret],
  idempotencyKey: 'dlv_1',
  timestampSec: Math.floor(Date.now() / 1000),
  auth: { type: 'bearer', token: SECRET_TOKEN },
});

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const received: Received[] = [];
let connections = 0;
let hugeBytesWritten = 0;
let hugeClosed: Promise<void> = Promise.resolve();
let markHugeClosed = () => {};

function route(req: http.IncomingMessage, res: http.ServerResponse, origin: string): void {
  const url = new URL(req.url ?? '/', origin);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({ path: url.pathname, headers: req.headers, body: Buffer.concat(chunks) });
    switch (url.pathname) {
      case '/ok':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
        return;
      case '/accepted':
        res.writeHead(202).end();
        return;
      case '/500':
        res.writeHead(500, { 'retry-after': '30' }).end('boom');
        return;
      case '/redirect':
        res.writeHead(302, { location: `${origin}/ok?from=redirect` }).end('moved');
        return;
      case '/hang':
        return; // never answers
      case '/slow-body':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial'); // headers and a little body, then nothing
        return;
      case '/reset':
        req.socket.destroy();
        return;
      case '/huge': {
        // An endless body: only a receiver that stops reading lets this request finish.
        res.writeHead(200, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'a');
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) hugeBytesWritten += chunk.length;
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', markHugeClosed);
        pump();
        return;
      }
      case '/big': {
        const big = Buffer.alloc(5 * 1024 * 1024, 'b');
        big.write('START', 0);
        res.writeHead(200, { 'content-length': String(big.length) }).end(big);
        return;
      }
      case '/multibyte':
        // 2047 ASCII bytes, then a 3-byte character straddling the 2048-byte limit.
        res.writeHead(200).end('x'.repeat(2047) + '€' + 'tail');
        return;
      case '/429':
        res.writeHead(429, { 'retry-after': '120' }).end('slow down');
        return;
      case '/503-date':
        res.writeHead(503, { 'retry-after': new Date(Date.now() + 90_000).toUTCString() }).end();
        return;
      case '/410':
        res.writeHead(410).end('gone');
        return;
      default:
        res.writeHead(404).end('no such route');
    }
  });
}

let httpServer: http.Server;
let httpsServer: https.Server;
let httpPort = 0;
let httpsPort = 0;
let refusedPort = 0;
let caCert = '';
const dispatchers: Agent[] = [];

const toLoopback: LookupFn = async () => [{ address: '127.0.0.1', family: 4 }];
function dispatcher(allow: string[], opts: Parameters<typeof createGuardedDispatcher>[1] = {}): Agent {
  const d = createGuardedDispatcher(new SsrfGuard(allow), opts);
  dispatchers.push(d);
  return d;
}

beforeAll(async () => {
  // DNS names only: connecting by 127.0.0.1 must fail verification even though the IP is pinned.
  const pems = await selfSignedFor(['localhost', 'hooks.example.test']);
  caCert = pems.cert;

  httpServer = http.createServer((req, res) => route(req, res, `http://127.0.0.1:${httpPort}`));
  httpServer.on('connection', () => connections++);
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  httpPort = (httpServer.address() as AddressInfo).port;

  httpsServer = https.createServer({ key: pems.key, cert: pems.cert }, (req, res) =>
    route(req, res, `https://localhost:${httpsPort}`),
  );
  await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  httpsPort = (httpsServer.address() as AddressInfo).port;

  // A port that was just free and is closed again: connecting to it is refused.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  refusedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.destroy()));
  httpServer.closeAllConnections();
  httpsServer.closeAllConnections();
  await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  await new Promise<void>((resolve) => httpsServer.close(() => resolve()));
});

const outcomes: AttemptOutcome[] = [];
async function send(url: string, opts: { timeoutMs?: number; d?: Agent; h?: Record<string, string> } = {}) {
  const outcome = await sendWebhook({
    url,
    headers: opts.h ?? headers,
    body,
    timeoutMs: opts.timeoutMs ?? 5000,
    dispatcher: opts.d ?? dispatcher(['127.0.0.0/8']),
  });
  outcomes.push(outcome);
  return outcome;
}
const httpUrl = (path: string) => `http://127.0.0.1:${httpPort}${path}`;

describe('sendWebhook over http to a real loopback receiver', () => {
  it('succeeds on 200, delivering the exact body bytes and headers', async () => {
    received.length = 0;
    const o = await send(httpUrl('/ok'));
    expect(o).toMatchObject({
      ok: true,
      statusCode: 200,
      errorKind: null,
      errorMessage: null,
      responseExcerpt: 'thanks',
      retryAfterMs: null,
      gone: false,
    });
    expect(o.durationMs).toBeGreaterThanOrEqual(0);
    expect(received).toHaveLength(1);
    const got = received[0];
    expect(got.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['user-agent']).toBe('Escalatr-Webhooks/1.0');
    expect(got.headers['x-escalatr-event']).toBe('webhook.test');
    expect(got.headers['x-escalatr-signature']).toBe(signEscalatr(secret, got.body));
    expect(got.headers['idempotency-key']).toBe('dlv_1');
    expect(got.headers['webhook-id']).toBe('evt_1');
    expect(got.headers['authorization']).toBe(`Bearer ${SECRET_TOKEN}`);
  });

  it('treats any 2xx as success, with an empty body as an empty excerpt', async () => {
    expect(await send(httpUrl('/accepted'))).toMatchObject({ ok: true, statusCode: 202, responseExcerpt: '' });
  });

  it('fails on 500 with the body excerpt, ignoring Retry-After outside 429/503', async () => {
    expect(await send(httpUrl('/500'))).toMatchObject({
      ok: false,
      statusCode: 500,
      errorKind: 'http_status',
      errorMessage: 'HTTP 500',
      responseExcerpt: 'boom',
      retryAfterMs: null,
      gone: false,
    });
  });

  it('does not follow a 302', async () => {
    received.length = 0;
    const o = await send(httpUrl('/redirect'));
    expect(o).toMatchObject({ ok: false, statusCode: 302, errorKind: 'redirect', responseExcerpt: 'moved' });
    expect(o.errorMessage).toMatch(/^HTTP 302 redirect not followed/);
    expect(received.map((r) => r.path)).toEqual(['/redirect']);
  });

  it('times out a receiver that never answers, within the budget', async () => {
    const o = await send(httpUrl('/hang'), { timeoutMs: 200 });
    expect(o).toMatchObject({ ok: false, statusCode: null, errorKind: 'timeout', responseExcerpt: null });
    expect(o.errorMessage).toBe('no complete response within 200 ms');
    expect(o.durationMs).toBeGreaterThanOrEqual(150);
    expect(o.durationMs).toBeLessThan(3000);
  });

  it('counts the body in the timeout: headers alone are not a response', async () => {
    const o = await send(httpUrl('/slow-body'), { timeoutMs: 200 });
    expect(o).toMatchObject({ ok: false, errorKind: 'timeout' });
    expect(o.durationMs).toBeLessThan(3000);
  });

  it('reports a reset connection', async () => {
    const o = await send(httpUrl('/reset'));
    expect(o).toMatchObject({ ok: false, statusCode: null, errorKind: 'connection_reset' });
    expect(o.errorMessage).toBeTruthy();
  });

  it('reports a refused connection', async () => {
    const o = await send(`http://127.0.0.1:${refusedPort}/ok`);
    expect(o).toMatchObject({ ok: false, statusCode: null, errorKind: 'connection_refused' });
    // The tenant sees a fixed text; the OS error (with the address) is for the server log.
    expect(o.errorMessage).toBe('the receiver refused the connection');
    expect(o.detail).toMatch(/ECONNREFUSED/);
  });

  it('keeps only 2 KB of an endless response and stops reading', async () => {
    hugeBytesWritten = 0;
    hugeClosed = new Promise<void>((resolve) => (markHugeClosed = resolve));
    const o = await send(httpUrl('/huge'));
    expect(o).toMatchObject({ ok: true, statusCode: 200, errorKind: null });
    expect(o.responseExcerpt).toBe('a'.repeat(2048));
    await hugeClosed; // the sender tore the connection down instead of draining it
    expect(hugeBytesWritten).toBeLessThan(64 * 1024 * 1024);
  });

  it('keeps exactly the first 2048 bytes of a large finite response', async () => {
    const o = await send(httpUrl('/big'));
    expect(Buffer.byteLength(o.responseExcerpt ?? '')).toBe(2048);
    expect(o.responseExcerpt?.startsWith('START')).toBe(true);
  });

  it('drops a multi-byte character cut by the 2 KB limit rather than mangling it', async () => {
    const o = await send(httpUrl('/multibyte'));
    expect(o.responseExcerpt).toBe('x'.repeat(2047));
  });

  it('reads Retry-After seconds on 429', async () => {
    expect(await send(httpUrl('/429'))).toMatchObject({
      ok: false,
      statusCode: 429,
      errorKind: 'http_status',
      retryAfterMs: 120_000,
      responseExcerpt: 'slow down',
    });
  });

  it('reads a Retry-After HTTP date on 503', async () => {
    const o = await send(httpUrl('/503-date'));
    expect(o.statusCode).toBe(503);
    expect(o.retryAfterMs).toBeGreaterThan(80_000);
    expect(o.retryAfterMs).toBeLessThanOrEqual(90_000);
  });

  it('flags 410 Gone', async () => {
    expect(await send(httpUrl('/410'))).toMatchObject({
      ok: false,
      statusCode: 410,
      errorKind: 'http_status',
      gone: true,
    });
  });

  it('blocks loopback when it is not allow-listed, without connecting', async () => {
    const before = connections;
    const o = await send(httpUrl('/ok'), { d: dispatcher([]) });
    expect(o).toMatchObject({ ok: false, statusCode: null, errorKind: 'ssrf_blocked' });
    expect(o.errorMessage).toBe('the host resolves to an address webhooks may not reach');
    expect(o.detail).toMatch(/loopback/);
    expect(connections).toBe(before);
    // Same for a name that resolves to loopback, and for localhost itself.
    expect(
      (await send(`http://hooks.example.test:${httpPort}/ok`, { d: dispatcher([], { lookup: toLoopback }) })).errorKind,
    ).toBe('ssrf_blocked');
    expect((await send(`http://localhost:${httpPort}/ok`, { d: dispatcher([]) })).errorKind).toBe('ssrf_blocked');
    expect(connections).toBe(before);
  });

  it('reports DNS failures', async () => {
    const nxdomain: LookupFn = async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    };
    expect(
      await send('http://no-such-host.example.test/ok', { d: dispatcher([], { lookup: nxdomain }) }),
    ).toMatchObject({ ok: false, errorKind: 'dns' });
  });

  it('never throws on bad input', async () => {
    expect(await send('not a url')).toMatchObject({
      ok: false,
      errorKind: 'other',
      errorMessage: 'the request could not be sent',
      detail: 'invalid URL',
    });
    expect(await send('ftp://127.0.0.1/x')).toMatchObject({ ok: false, errorKind: 'other' });
    const badHeaders = { ...headers, 'X-Bad': 'line\r\nbreak' };
    const o = await send(httpUrl('/ok'), { h: badHeaders });
    expect(o).toMatchObject({ ok: false, errorKind: 'other' });
  });
});

describe('sendWebhook over https with a self-signed certificate', () => {
  const httpsUrl = (host: string, path: string) => `https://${host}:${httpsPort}${path}`;

  it('succeeds when the certificate is trusted via the dispatcher CA, pinned to 127.0.0.1 but verified as localhost', async () => {
    const o = await send(httpsUrl('localhost', '/ok'), { d: dispatcher(['127.0.0.0/8'], { tls: { ca: caCert } }) });
    expect(o).toMatchObject({ ok: true, statusCode: 200, responseExcerpt: 'thanks' });
  });

  it('verifies against the configured name even when DNS is answered by an injected lookup', async () => {
    const d = dispatcher(['127.0.0.0/8'], { tls: { ca: caCert }, lookup: toLoopback });
    expect(await send(httpsUrl('hooks.example.test', '/ok'), { d })).toMatchObject({ ok: true, statusCode: 200 });
  });

  it('fails with a TLS error when the certificate is not trusted', async () => {
    const o = await send(httpsUrl('localhost', '/ok'), { d: dispatcher(['127.0.0.0/8']) });
    expect(o).toMatchObject({ ok: false, statusCode: null, errorKind: 'tls' });
  });

  it('cannot be talked out of verification', async () => {
    const d = dispatcher(['127.0.0.0/8'], { tls: { rejectUnauthorized: false } });
    expect(await send(httpsUrl('localhost', '/ok'), { d })).toMatchObject({ ok: false, errorKind: 'tls' });
  });

  it('fails with a TLS error when the name does not match the certificate', async () => {
    const d = dispatcher(['127.0.0.0/8'], { tls: { ca: caCert } });
    const o = await send(httpsUrl('127.0.0.1', '/ok'), { d });
    expect(o).toMatchObject({ ok: false, errorKind: 'tls' });
    expect(o.errorMessage).toBe('the TLS handshake failed: the certificate is not trusted or not valid for the host');
    expect(o.detail).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|altname|does not match/i);
    const other: LookupFn = toLoopback;
    const o2 = await send(httpsUrl('other.example.test', '/ok'), {
      d: dispatcher(['127.0.0.0/8'], { tls: { ca: caCert }, lookup: other }),
    });
    expect(o2).toMatchObject({ ok: false, errorKind: 'tls' });
  });

  it('reports speaking TLS to a plain-http port as a TLS error', async () => {
    const o = await send(`https://127.0.0.1:${httpPort}/ok`);
    expect(o).toMatchObject({ ok: false, errorKind: 'tls' });
  });

  it('times out over TLS too', async () => {
    const d = dispatcher(['127.0.0.0/8'], { tls: { ca: caCert } });
    expect(await send(httpsUrl('localhost', '/hang'), { d, timeoutMs: 200 })).toMatchObject({
      ok: false,
      errorKind: 'timeout',
    });
  });
});

describe('error hygiene', () => {
  it('never puts header values in an error message', () => {
    expect(outcomes.length).toBeGreaterThan(20);
    const values = Object.values(headers).filter((v) => v.length >= 8 && v !== 'application/json');
    for (const o of outcomes) {
      for (const v of [...values, SECRET_TOKEN]) {
        expect(o.errorMessage ?? '').not.toContain(v);
        expect(o.detail ?? '').not.toContain(v);
      }
    }
  });

  it('redacts credentials even if an underlying error echoed them', async () => {
    // A header value undici refuses: its error must not carry the credential (it names the header only).
    const o = await send(httpUrl('/ok'), { h: { ...headers, Authorization: `Bearer ${SECRET_TOKEN}\n` } });
    expect(o.errorKind).toBe('other');
    expect(o.errorMessage).not.toContain(SECRET_TOKEN);
    expect(o.detail).not.toContain(SECRET_TOKEN);
    const withUserinfo = await send(`http://user:hunter2secret@127.0.0.1:${refusedPort}/ok`);
    expect(withUserinfo.errorMessage).not.toContain('hunter2secret');
    expect(withUserinfo.detail).not.toContain('hunter2secret');
  });

  it('scrubs header values and URL credentials out of an error that quotes them', async () => {
    // A dispatcher whose failure message quotes the request it was given, as a careless library might.
    class QuotingDispatcher extends Dispatcher {
      override dispatch(opts: Dispatcher.DispatchOptions): boolean {
        const h = opts.headers as Record<string, string>;
        throw new Error(`refused ${String(opts.origin)} with ${h['Authorization']} and ${h['X-Escalatr-Signature']}`);
      }
    }
    const o = await sendWebhook({
      url: 'http://admin:pa55word-xyz@127.0.0.1:1/ok',
      headers,
      body,
      timeoutMs: 1000,
      dispatcher: new QuotingDispatcher(),
    });
    expect(o).toMatchObject({ ok: false, errorKind: 'other' });
    expect(o.errorMessage).toBe('the request could not be sent');
    // The detail, which goes to the server log, is scrubbed too.
    expect(o.detail).toMatch(/^refused /);
    expect(o.detail).not.toContain(SECRET_TOKEN);
    expect(o.detail).not.toContain(headers['X-Escalatr-Signature']);
    expect(o.detail).not.toContain('pa55word-xyz');
    expect(o.detail).toContain('[redacted]');
  });

  it('only ever opened sockets to loopback', () => {
    expect(connectTargets.length).toBeGreaterThan(0);
    expect(connectTargets.every(isLoopbackTarget)).toBe(true);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-06-13T07:45:12.000Z');
  it.each([
    ['120', 120_000],
    ['0', 0],
    [' 5 ', 5_000],
    ['Sat, 13 Jun 2026 07:46:12 GMT', 60_000],
    ['Sat, 13 Jun 2026 07:40:00 GMT', 0],
    ['99999999', MAX_RETRY_AFTER_MS],
  ])('%j → %d ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each([null, undefined, '', '-5', '1.5', 'soon', 'tomorrow', 'Sat, 99 Foo 2026'])('%j → null', (value) => {
    expect(parseRetryAfter(value as string | null | undefined, now)).toBeNull();
  });
});

describe('classifyError', () => {
  it.each([
    [new SsrfBlockedError('private', '10.0.0.1'), 'ssrf_blocked'],
    [Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'timeout'],
    [Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), 'timeout'],
    [Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'connection_refused'],
    [Object.assign(new Error('x'), { code: 'ECONNRESET' }), 'connection_reset'],
    [Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }), 'connection_reset'],
    [Object.assign(new Error('x'), { code: 'EAI_AGAIN' }), 'dns'],
    [Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' }), 'tls'],
    [Object.assign(new Error('x'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'tls'],
    [Object.assign(new Error('x'), { code: 'UND_ERR_RES_EXCEEDED_MAX_SIZE' }), 'body_too_large'],
    [new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }), 'connection_refused'],
    [new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), 'connection_refused'],
    [new Error('mystery'), 'other'],
    ['not even an error', 'other'],
  ])('%s → %s', (err, kind) => {
    expect(classifyError(err)).toBe(kind);
  });
});
