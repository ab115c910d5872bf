import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { serve } from '../lib/rpc.js';
import { epochMs, peakRssMb } from '../lib/time.js';

/**
 * The one receiver every sender in the bench talks to: a bare node:http server on 127.0.0.1 in its own process that
 * reads the body, answers 200 and counts. Paths under /hang never get an answer (the isolation run's dead endpoint).
 * With tracking on, it keeps the first arrival time of each complaint (`data.escalatr_id` in the body) for the latency
 * run: the producer knows a complaint's id when its commit returns, so both sides key on it.
 */

let total = 0;
let hung = 0;
const byPath = new Map<string, number>();
let tracking = false;
const firstArrival = new Map<string, number>();
const waiters: Array<{ count: number; resolve: (at: number) => void }> = [];
const sockets = new Set<Socket>();
const hanging = new Set<ServerResponse>();

function handle(req: IncomingMessage, res: ServerResponse) {
  const url = req.url ?? '/';
  if (url.startsWith('/hang')) {
    hung++;
    req.resume();
    hanging.add(res);
    res.on('close', () => hanging.delete(res));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => {
    if (tracking) chunks.push(c);
  });
  req.on('end', () => {
    const at = epochMs();
    total++;
    byPath.set(url, (byPath.get(url) ?? 0) + 1);
    if (tracking) {
      const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { escalatr_id?: string } }).data
        ?.escalatr_id;
      if (id && !firstArrival.has(id)) firstArrival.set(id, at);
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (total >= waiters[i].count) waiters.splice(i, 1)[0].resolve(at);
    }
  });
}

const server = createServer({ keepAlive: true }, handle);
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;
server.on('connection', (s: Socket) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

serve(
  {
    async listen() {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { port: (server.address() as AddressInfo).port };
    },
    reset(args: { track?: boolean } = {}) {
      total = 0;
      hung = 0;
      byPath.clear();
      firstArrival.clear();
      tracking = args.track ?? false;
      // Hung requests of a previous run are dropped so the next run starts with no open sockets of its own.
      for (const res of hanging) res.destroy();
      return null;
    },
    stats() {
      return { total, hung, byPath: Object.fromEntries(byPath), connections: sockets.size, peakRssMb: peakRssMb() };
    },
    /** Resolves with the arrival time of request number `count`. */
    waitFor(args: { count: number }) {
      if (total >= args.count) return epochMs();
      return new Promise<number>((resolve) => waiters.push({ count: args.count, resolve }));
    },
    arrivals() {
      return [...firstArrival];
    },
    /** Resolves once every one of `ids` has arrived (or after `timeoutMs`) with how many never did. */
    async waitForIds(args: { ids: string[]; timeoutMs: number }) {
      const deadline = epochMs() + args.timeoutMs;
      for (;;) {
        const missing = args.ids.filter((id) => !firstArrival.has(id)).length;
        if (missing === 0 || epochMs() > deadline) return missing;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  },
  async () => {
    for (const res of hanging) res.destroy();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  },
);
