import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { attemptErrorMessage, type AttemptErrorKind, type AttemptOutcome } from '../queue/attempt.js';
import { isSsrfBlockedError } from './ssrf-guard.js';

export interface SendWebhookInput {
  url: string;
  headers: Record<string, string>;
  body: string | Buffer;
  /** Covers connect, response headers and reading the excerpt: one budget for the whole attempt. */
  timeoutMs: number;
  /** Must be the SSRF-guarded dispatcher in production; there is deliberately no default. */
  dispatcher: Dispatcher;
}

export const RESPONSE_EXCERPT_BYTES = 2048;
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

class AttemptTimeout extends Error {
  constructor() {
    super('attempt timed out');
    this.name = 'AttemptTimeout';
  }
}

/** Sends one delivery attempt. Never throws; error messages never contain header values or URL credentials. */
export async function sendWebhook(input: SendWebhookInput): Promise<AttemptOutcome> {
  const start = performance.now();
  const elapsed = () => Math.max(0, Math.round(performance.now() - start));
  const fail = (errorKind: AttemptErrorKind, detail: string): AttemptOutcome => ({
    ok: false,
    statusCode: null,
    durationMs: elapsed(),
    errorKind,
    errorMessage: attemptErrorMessage(errorKind, { timeoutMs: input.timeoutMs }),
    detail: redact(detail, input),
    responseExcerpt: null,
    retryAfterMs: null,
    gone: false,
  });

  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    return fail('other', 'invalid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return fail('other', `unsupported protocol ${url.protocol}`);

  let res: Exchange;
  try {
    res = await exchange(input, url);
  } catch (err) {
    const timedOut = err instanceof AttemptTimeout;
    return fail(
      timedOut ? 'timeout' : classifyError(err),
      timedOut ? `no complete response within ${input.timeoutMs} ms` : describeError(err),
    );
  }
  const { statusCode } = res;
  const ok = statusCode >= 200 && statusCode < 300;
  let errorKind: AttemptErrorKind | null = null;
  let errorMessage: string | null = null;
  if (!ok) {
    errorKind = statusCode >= 300 && statusCode < 400 ? 'redirect' : 'http_status';
    errorMessage = attemptErrorMessage(errorKind, { statusCode });
  }
  return {
    ok,
    statusCode,
    durationMs: elapsed(),
    errorKind,
    errorMessage,
    // StringDecoder.write holds back a trailing partial character instead of emitting U+FFFD for it. NUL becomes
    // U+FFFD: PostgreSQL refuses NUL in text, and one receiver answering with it failed the write of every result
    // batched with its attempt, again at each retry.
    responseExcerpt: new StringDecoder('utf8').write(res.excerpt).replaceAll('\0', '\uFFFD'),
    retryAfterMs:
      statusCode === 429 || statusCode === 503 ? parseRetryAfter(headerValue(res.headers['retry-after'])) : null,
    gone: statusCode === 410,
  };
}

interface Exchange {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** At most RESPONSE_EXCERPT_BYTES of the body. */
  excerpt: Buffer;
}

/** Ends the exchange once the excerpt is read: the rest of a large body is never downloaded. */
class ExcerptComplete extends Error {}

/**
 * One POST through the dispatcher's handler interface rather than `request()`: no body stream, async iterator or
 * abort signal per attempt — those were a third of a delivery worker's HTTP client time in profiles. One budget
 * covers the whole exchange (connect, response headers, excerpt); redirects are not followed (dispatch never does).
 * Reading stops after RESPONSE_EXCERPT_BYTES, and the connection of such a response is dropped rather than drained.
 */
function exchange(input: SendWebhookInput, url: URL): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | null = null;
    let settled = false;
    let statusCode = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve({ statusCode, headers, excerpt: Buffer.concat(chunks, size).subarray(0, RESPONSE_EXCERPT_BYTES) });
    };
    const timer = setTimeout(
      () => {
        const err = new AttemptTimeout();
        controller?.abort(err);
        finish(err);
      },
      Math.max(1, input.timeoutMs),
    );
    input.dispatcher.dispatch(
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: input.headers,
        body: input.body,
        // Backstops in case the timer is somehow missed; the timer is the real budget.
        headersTimeout: input.timeoutMs,
        bodyTimeout: input.timeoutMs,
      },
      {
        onRequestStart(c) {
          controller = c;
          // The budget ran out while the request waited for a connection.
          if (settled) c.abort(new AttemptTimeout());
        },
        onResponseStart(_c, code, responseHeaders) {
          statusCode = code;
          headers = responseHeaders;
        },
        onResponseData(c, chunk) {
          if (settled) return;
          chunks.push(chunk);
          size += chunk.length;
          if (size >= RESPONSE_EXCERPT_BYTES) {
            finish(null);
            c.abort(new ExcerptComplete());
          }
        },
        onResponseEnd() {
          finish(null);
        },
        onResponseError(_c, err) {
          finish(err);
        },
      },
    );
  });
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date; null when absent or unparseable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | null {
  if (value == null) return null;
  const text = value.trim();
  if (!text) return null;
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    // Only accept things that look like an HTTP date, not whatever Date.parse happens to understand ("1", "tomorrow").
    if (!/[a-z]/i.test(text) || !/\d{4}/.test(text)) return null;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  if (!Number.isFinite(ms)) return null;
  return Math.min(Math.max(0, Math.round(ms)), MAX_RETRY_AFTER_MS);
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA']);
const TLS_CODES = new Set([
  'EPROTO',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** The codes on an error and its causes (undici and AggregateError both nest the interesting one). */
function errorCodes(err: unknown, depth = 0): string[] {
  if (!err || typeof err !== 'object' || depth > 4) return [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof e.code === 'string' ? [e.code] : [];
  codes.push(...errorCodes(e.cause, depth + 1));
  if (Array.isArray(e.errors)) for (const inner of e.errors) codes.push(...errorCodes(inner, depth + 1));
  return codes;
}

export function classifyError(err: unknown): AttemptErrorKind {
  if (isSsrfBlockedError(err) || isSsrfBlockedError((err as { cause?: unknown } | null)?.cause)) return 'ssrf_blocked';
  const codes = errorCodes(err);
  const has = (set: Set<string>) => codes.some((c) => set.has(c));
  if (has(TIMEOUT_CODES)) return 'timeout';
  if (codes.includes('ECONNREFUSED')) return 'connection_refused';
  if (has(DNS_CODES)) return 'dns';
  if (has(TLS_CODES) || codes.some((c) => /^ERR_(TLS|SSL)_|CERT/.test(c))) return 'tls';
  if (has(RESET_CODES)) return 'connection_reset';
  if (codes.includes('UND_ERR_RES_EXCEEDED_MAX_SIZE')) return 'body_too_large';
  return 'other';
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown error';
  const code = errorCodes(err)[0];
  const text = err.message || err.name;
  const prefix = code && !code.startsWith('ESCALATR_') && !text.includes(code);
  return truncate(prefix ? `${code}: ${text}` : text, 500);
}

/** Belt and braces: strip header values (credentials, signatures) and URL credentials from anything we record. */
function redact(message: string, input: SendWebhookInput): string {
  const secrets: string[] = [];
  for (const value of Object.values(input.headers ?? {})) {
    if (typeof value !== 'string') continue;
    secrets.push(value);
    // Also catch the bare token inside "Bearer <token>" or a space-separated signature list.
    for (const part of value.split(/[\s,]+/)) secrets.push(part);
  }
  try {
    const url = new URL(input.url);
    if (url.username) secrets.push(decodeURIComponent(url.username), url.username);
    if (url.password) secrets.push(decodeURIComponent(url.password), url.password);
  } catch {
    // An unparseable URL has no credentials for us to find.
  }
  let out = message;
  for (const s of secrets.filter((v) => v.length >= 6).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join('[redacted]');
  }
  return out;
}
