import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  receivedAt: number;
}

/** What the receiver does with request number `n` (1-based): answer, hang, or drop the connection. */
export type Behaviour = (
  req: ReceivedRequest,
  n: number,
) => { status: number; body?: string; headers?: Record<string, string> } | 'hang' | 'reset';

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Resolves once `count` requests have arrived (no polling, no sleeps). */
  waitFor(count: number): Promise<ReceivedRequest[]>;
  /** Requests currently being handled (for concurrency-cap checks). */
  open(): number;
  maxOpen(): number;
  setBehaviour(b: Behaviour): void;
  close(): Promise<void>;
}

/** A real HTTP(S) server on 127.0.0.1 that records every request's raw bytes. */
export async function startReceiver(
  opts: { behaviour?: Behaviour; tls?: { key: string; cert: string }; host?: string } = {},
): Promise<Receiver> {
  let behaviour: Behaviour = opts.behaviour ?? (() => ({ status: 200, body: 'ok' }));
  const requests: ReceivedRequest[] = [];
  const waiters: Array<{ count: number; resolve: (r: ReceivedRequest[]) => void }> = [];
  const sockets = new Set<Socket>();
  const hung = new Set<ServerResponse>();
  let openCount = 0;
  let maxOpen = 0;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    openCount++;
    maxOpen = Math.max(maxOpen, openCount);
    res.on('close', () => openCount--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        receivedAt: Date.now(),
      };
      requests.push(r);
      const action = behaviour(r, requests.length);
      for (const w of waiters.slice()) {
        if (requests.length >= w.count) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(requests.slice());
        }
      }
      if (action === 'hang') {
        hung.add(res);
        return;
      }
      if (action === 'reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(action.status, { 'content-type': 'text/plain', ...action.headers });
      res.end(action.body ?? '');
    });
  };
  const server: Server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, handler)
    : createHttpServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${urlHost}:${port}/hook`,
    port,
    requests,
    waitFor(count) {
      if (requests.length >= count) return Promise.resolve(requests.slice());
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    open: () => openCount,
    maxOpen: () => maxOpen,
    setBehaviour(b) {
      behaviour = b;
    },
    async close() {
      for (const res of hung) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
