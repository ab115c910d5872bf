import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { request } from 'undici';
import WebSocket from 'ws';
import type {
  ListenerDelivery,
  ListenerErrorKind,
  ListenerResult,
  ListenerServerMessage,
} from '../webhooks/listener/protocol.js';

/** Refused by the server (a bad key, a missing endpoint): nothing a reconnect would fix. */
class ListenRefused extends Error {}

interface ListenOptions {
  forwardTo: string;
  events?: string;
  server?: string;
  key?: string;
}

const DEFAULT_SERVER = 'http://localhost:3000';
const EXCERPT_MAX = 2048;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

/** `escalatr listen`: a development endpoint whose deliveries arrive on this machine. */
export function registerListenCommand(program: Command): void {
  program
    .command('listen')
    .description(
      'receive your company\u2019s deliveries on this machine: registers a development endpoint, forwards each ' +
        'delivery to a local URL with its real signature headers, and removes the endpoint on Ctrl-C',
    )
    .requiredOption('--forward-to <url>', 'the local URL each delivery is posted to, e.g. http://localhost:4000/hooks')
    .option('--events <names>', 'comma-separated event names to receive (default: all)')
    .option('--server <url>', `the Escalatr server (default: ESCALATR_URL, else ${DEFAULT_SERVER})`)
    .option('--key <key>', 'an admin API key, esc_… (default: ESCALATR_API_KEY)')
    .action(async (o: ListenOptions) => listen(o));
}

async function listen(o: ListenOptions): Promise<void> {
  const server = (o.server ?? process.env.ESCALATR_URL ?? DEFAULT_SERVER).replace(/\/+$/, '');
  const key = o.key ?? process.env.ESCALATR_API_KEY;
  if (!key) throw new Error('an API key is needed: pass --key esc_… or set ESCALATR_API_KEY');
  let forwardTo: URL;
  try {
    forwardTo = new URL(o.forwardTo);
    if (!/^https?:$/.test(forwardTo.protocol)) throw new Error('not http');
  } catch {
    throw new Error(`--forward-to must be an http:// or https:// URL, not "${o.forwardTo}"`);
  }
  let serverUrl: URL;
  try {
    serverUrl = new URL(server);
    if (!/^https?:$/.test(serverUrl.protocol)) throw new Error('not http');
  } catch {
    throw new Error(`the server must be an http:// or https:// URL, not "${server}"`);
  }
  const listener = new Listener(serverUrl, key, forwardTo.href, o.events);
  return listener.run();
}

class Listener {
  private endpointId: string | null = null;
  private socket: WebSocket | null = null;
  private stopping = false;
  private stopWait: (() => void) | null = null;

  constructor(
    private readonly server: URL,
    private readonly key: string,
    private readonly forwardTo: string,
    private readonly events: string | undefined,
  ) {}

  async run(): Promise<void> {
    const onSigint = () => this.stop();
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigint);
    try {
      let delay = RECONNECT_MIN_MS;
      while (!this.stopping) {
        const wasReady = await this.connectOnce();
        if (this.stopping) break;
        if (this.endpointId === null) throw new Error(`could not connect to ${this.server.origin}`);
        delay = wasReady ? RECONNECT_MIN_MS : Math.min(delay * 2, RECONNECT_MAX_MS);
        out(`${stamp()}  connection lost; reconnecting\u2026`);
        await this.pause(delay);
      }
      await this.removeEndpoint();
    } finally {
      process.removeListener('SIGINT', onSigint);
      process.removeListener('SIGTERM', onSigint);
    }
  }

  private stop(): void {
    this.stopping = true;
    this.socket?.close(1000, 'listener stopped');
    this.stopWait?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stopWait = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopWait = done;
    });
  }

  private listenUrl(): string {
    const url = new URL('/api/v1/webhooks/listen', this.server);
    url.protocol = this.server.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.endpointId) url.searchParams.set('endpoint_id', this.endpointId);
    else {
      url.searchParams.set('forward_to', this.forwardTo);
      if (this.events) url.searchParams.set('events', this.events);
    }
    return url.href;
  }

  /** One connection, until it ends; resolves with whether it got as far as ready. Throws when refused. */
  private connectOnce(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      let ready = false;
      const socket = new WebSocket(this.listenUrl(), { headers: { authorization: `Bearer ${this.key}` } });
      this.socket = socket;
      socket.on('unexpected-response', (_req, res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 500) return resolve(false);
          reject(new ListenRefused(refusal(status, text, this.endpointId)));
        });
        res.on('error', () => resolve(false));
      });
      socket.on('error', () => {
        // 'close' follows and decides; an error before the first ready with no endpoint yet ends the command there.
      });
      socket.on('close', () => {
        this.socket = null;
        resolve(ready);
      });
      socket.on('message', (data) => {
        let message: ListenerServerMessage;
        try {
          message = JSON.parse(String(data)) as ListenerServerMessage;
        } catch {
          return;
        }
        if (message.type === 'ready') {
          const first = this.endpointId === null;
          ready = true;
          this.endpointId = message.endpoint_id;
          if (first)
            out(
              `Ready. Forwarding deliveries to ${this.forwardTo}`,
              `  development endpoint ${message.endpoint_id}, events: ${message.events.join(', ')}`,
              `  signing secret ${message.secret}`,
              '  Press Ctrl-C to stop and remove the endpoint.',
            );
          else out(`${stamp()}  reconnected`);
        } else if (message.type === 'delivery') {
          void this.forward(socket, message);
        }
      });
    });
  }

  /** Posts one delivery to the local URL with exactly its headers and body, prints a line, reports the result. */
  private async forward(socket: WebSocket, delivery: ListenerDelivery): Promise<void> {
    const started = performance.now();
    let status: number | null = null;
    let errorKind: ListenerErrorKind | null = null;
    let excerpt: string | null = null;
    try {
      const res = await request(this.forwardTo, {
        method: 'POST',
        headers: delivery.headers,
        body: delivery.body,
        signal: AbortSignal.timeout(delivery.timeout_ms),
      });
      status = res.statusCode;
      excerpt = (await res.body.text()).slice(0, EXCERPT_MAX) || null;
    } catch (err) {
      errorKind = errorKindOf(err);
    }
    const ms = Math.round(performance.now() - started);
    out(
      [stamp(), delivery.event, status ?? errorKind, `${ms} ms`, delivery.delivery_id]
        .concat(delivery.attempt > 1 ? [`attempt ${delivery.attempt}`] : [])
        .join('  '),
    );
    const result: ListenerResult = {
      type: 'result',
      delivery_id: delivery.delivery_id,
      status_code: status,
      error_kind: errorKind,
      duration_ms: ms,
      response_excerpt: excerpt,
    };
    // On a connection that has gone, the result is lost: the delivery stays queued and the next connection resends it.
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(result));
  }

  private async removeEndpoint(): Promise<void> {
    if (!this.endpointId) return;
    try {
      const res = await request(new URL(`/api/v1/webhooks/${this.endpointId}`, this.server), {
        method: 'DELETE',
        headers: { authorization: `Bearer ${this.key}` },
        signal: AbortSignal.timeout(10_000),
      });
      await res.body.dump();
      if (res.statusCode >= 300 && res.statusCode !== 404) throw new Error(`HTTP ${res.statusCode}`);
      out(`Removed development endpoint ${this.endpointId}.`);
    } catch (err) {
      out(
        `Could not remove development endpoint ${this.endpointId} (${(err as Error).message}); ` +
          'it expires after an hour without a listener.',
      );
    }
  }
}

function refusal(status: number, body: string, endpointId: string | null): string {
  let detail = '';
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
    if (parsed.error) detail = `${parsed.error.code ?? ''}: ${parsed.error.message ?? ''}`;
  } catch {
    detail = body.slice(0, 200);
  }
  if (status === 401) return `the server refused the API key (${detail || 'HTTP 401'})`;
  if (status === 403) return `the API key may not manage webhooks (${detail || 'HTTP 403'}); it needs the admin scope`;
  if (status === 404 && endpointId) return `development endpoint ${endpointId} is gone (${detail || 'HTTP 404'})`;
  return `the server refused to listen: HTTP ${status}${detail ? ` ${detail}` : ''}`;
}

function errorKindOf(err: unknown): ListenerErrorKind {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'connection_reset';
  return 'other';
}

const stamp = () => new Date().toISOString();

function out(...lines: string[]): void {
  process.stdout.write(lines.join('\n') + '\n');
}
