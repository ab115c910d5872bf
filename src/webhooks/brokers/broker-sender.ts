import type { ConnectionOptions } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { attemptErrorMessage, type AttemptErrorKind, type AttemptOutcome } from '../../queue/attempt.js';
import { classifyError } from '../http-sender.js';
import { resolveAndCheck, type LookupFn, type SsrfGuard } from '../ssrf-guard.js';
import {
  brokerTls,
  BrokerRefusal,
  type BrokerConnection,
  type BrokerConnector,
  type BrokerMessage,
} from './connection.js';
import { BrokerUrlError, parseBrokerUrl, type BrokerDestination } from './destination.js';
import type { BrokerKind } from './schemes.js';

/** What one attempt publishes to a broker endpoint; the endpoint target prepared and signed it. */
export interface BrokerPublishInput {
  /** The stored URL: no password in it. */
  url: string;
  /** Opened from its sealed column for this attempt; null when the URL has none. */
  password: string | null;
  headers: Record<string, string>;
  body: string;
  messageId: string;
  /** One budget for the whole attempt: resolving, connecting (when no pooled connection is open) and the ack. */
  timeoutMs: number;
}

/**
 * Each broker's client library is loaded on its first connection: together they hold about 28 MB of memory, which a
 * process that never delivers to a broker (most of them) should not pay.
 */
const CONNECTORS: Record<BrokerKind, BrokerConnector> = {
  amqp: async (...args) => (await import('./amqp.js')).connectAmqp(...args),
  nats: async (...args) => (await import('./nats.js')).connectNats(...args),
  redis: async (...args) => (await import('./redis-stream.js')).connectRedis(...args),
  mqtt: async (...args) => (await import('./mqtt.js')).connectMqtt(...args),
};

/** A connection no attempt has used for this long is closed; the next attempt opens another. */
const DEFAULT_IDLE_MS = 60_000;
const ANSWER_CHARS = 2048;

class AttemptTimeout extends Error {}

interface Pooled {
  connection: Promise<BrokerConnection>;
  idleTimer: NodeJS.Timeout | null;
}

export interface BrokerSendersOptions {
  lookup?: LookupFn;
  /** Extra TLS options for amqps, tls (NATS), rediss and mqtts destinations (tests: a private CA); verified always. */
  tls?: ConnectionOptions;
  idleMs?: number;
}

/**
 * Publishes delivery attempts to brokers, with one pooled connection per destination (scheme, host, port,
 * credentials, virtual host) that is closed once idle or broken. Every connect goes through the address guard, as
 * HTTP attempts do: the host is resolved, every address checked, and the checked address dialled. `send` never
 * throws and never hangs past the attempt's budget; its error details carry no credentials.
 */
export class BrokerSenders {
  private readonly pool = new Map<string, Pooled>();
  /** Attempts using each destination's connection now: it is not closed for idleness under them. */
  private readonly inFlight = new Map<string, number>();
  private readonly idleMs: number;
  private closed = false;

  constructor(
    private readonly guard: SsrfGuard,
    private readonly opts: BrokerSendersOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
  }

  async send(input: BrokerPublishInput): Promise<AttemptOutcome> {
    const start = performance.now();
    const elapsed = () => Math.max(0, Math.round(performance.now() - start));
    const fail = (errorKind: AttemptErrorKind, detail: string, answer: string | null = null): AttemptOutcome => ({
      ok: false,
      statusCode: null,
      durationMs: elapsed(),
      errorKind,
      errorMessage: attemptErrorMessage(errorKind, { timeoutMs: input.timeoutMs }),
      detail: scrub(detail, input.password),
      responseExcerpt: answer === null ? null : scrub(answer, input.password).slice(0, ANSWER_CHARS),
      retryAfterMs: null,
      gone: false,
    });

    let destination: BrokerDestination;
    try {
      destination = { ...parseBrokerUrl(input.url), password: input.password };
    } catch (err) {
      return fail('other', err instanceof BrokerUrlError ? err.message : 'invalid broker URL');
    }
    if (this.closed) return fail('other', 'the worker is stopping');

    const key = poolKey(destination);
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AttemptTimeout()), Math.max(1, input.timeoutMs));
    });
    const message: BrokerMessage = { body: input.body, headers: input.headers, messageId: input.messageId };
    this.hold(key);
    const work = (async () => {
      const connection = await this.acquire(key, destination, input.timeoutMs);
      return connection.publish(destination, message, input.timeoutMs);
    })();
    // The loser of the race must not become an unhandled rejection.
    work.catch(() => {});
    try {
      const answer = await Promise.race([work, budget]);
      return {
        ok: true,
        statusCode: null,
        durationMs: elapsed(),
        errorKind: null,
        errorMessage: null,
        responseExcerpt: answer.slice(0, ANSWER_CHARS),
        retryAfterMs: null,
        gone: false,
      };
    } catch (err) {
      if (err instanceof BrokerRefusal)
        return fail(err.refusal === 'auth' ? 'broker_auth' : 'broker_rejected', err.answer, err.answer);
      // What the connection is doing after a timeout or a network error is unknown: the next attempt starts afresh.
      this.discard(key);
      if (err instanceof AttemptTimeout)
        return fail('timeout', `no acknowledgement from the broker within ${input.timeoutMs} ms`);
      return fail(classifyError(err), err instanceof Error ? err.message || err.name : 'unknown error');
    } finally {
      clearTimeout(timer);
      this.release(key);
    }
  }

  /** The pooled connection for `key`: reused while open, replaced when broken, opened when there is none. */
  private async acquire(key: string, destination: BrokerDestination, timeoutMs: number): Promise<BrokerConnection> {
    const existing = this.pool.get(key);
    if (existing) {
      const open = await existing.connection.then(
        (c) => (c.broken ? null : c),
        () => null,
      );
      if (open) return open;
      if (this.pool.get(key) === existing) this.discard(key);
    }
    const current = this.pool.get(key);
    if (current) return current.connection;
    const entry: Pooled = { connection: this.connect(destination, timeoutMs), idleTimer: null };
    this.pool.set(key, entry);
    // A connect that failed (broker down, wrong password) is not kept: the next attempt tries again.
    entry.connection.catch(() => {
      if (this.pool.get(key) === entry) this.pool.delete(key);
    });
    return entry.connection;
  }

  private hold(key: string): void {
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    const entry = this.pool.get(key);
    if (entry?.idleTimer) clearTimeout(entry.idleTimer);
    if (entry) entry.idleTimer = null;
  }

  private release(key: string): void {
    const left = (this.inFlight.get(key) ?? 1) - 1;
    if (left > 0) {
      this.inFlight.set(key, left);
      return;
    }
    this.inFlight.delete(key);
    const entry = this.pool.get(key);
    if (!entry) return;
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      if (this.pool.get(key) === entry && !this.inFlight.has(key)) this.discard(key);
    }, this.idleMs);
    entry.idleTimer.unref();
  }

  private discard(key: string): void {
    const entry = this.pool.get(key);
    if (!entry) return;
    this.pool.delete(key);
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.connection.then((c) => c.close()).catch(() => {});
  }

  private async connect(destination: BrokerDestination, timeoutMs: number): Promise<BrokerConnection> {
    const [address] = await resolveAndCheck(this.guard, destination.host, this.opts.lookup);
    return CONNECTORS[destination.kind](destination, address, timeoutMs, brokerTls(destination, this.opts.tls));
  }

  /** How many destinations have a connection open or opening (the worker's metrics and the tests read it). */
  get openConnections(): number {
    return this.pool.size;
  }

  /** Closes every pooled connection; attempts sent afterwards fail at once. */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.pool.values()];
    this.pool.clear();
    await Promise.all(
      entries.map(async (entry) => {
        if (entry.idleTimer) clearTimeout(entry.idleTimer);
        await entry.connection.then((c) => c.close()).catch(() => {});
      }),
    );
  }
}

/** Credentials are part of the key (a changed password is a new connection) but only as a hash. */
function poolKey(d: BrokerDestination): string {
  const credentials = createHash('sha256')
    .update(`${d.username ?? ''}\0${d.password ?? ''}`)
    .digest('base64url');
  return `${d.kind}${d.tls ? '+tls' : ''}://${d.host}:${d.port}${d.kind === 'amqp' ? `/${d.vhost}` : ''}#${credentials}`;
}

/** Libraries quote the URL or the password in some errors; what is logged or stored never carries it. */
function scrub(text: string, password: string | null): string {
  let out = text.replace(/(\w+:\/\/)[^/@\s]*@/g, '$1[redacted]@');
  if (password && password.length >= 3) out = out.split(password).join('[redacted]');
  return out.slice(0, 500);
}
