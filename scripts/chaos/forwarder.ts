import net, { type AddressInfo } from 'node:net';

export interface Forwarder {
  port: number;
  /** Connections currently relayed. */
  open(): number;
  /** Holds every chunk this many ms before passing it on, half each way (0: none). */
  setDelay(roundTripMs: number): void;
  close(): Promise<void>;
}

/**
 * A TCP relay from `listen` (a veth's address in the root namespace) to a server on loopback, so processes in a
 * network namespace reach a PostgreSQL that listens on 127.0.0.1 only. Where the kernel has no `tc netem` it
 * also adds latency: each chunk is released no earlier than `delay` after it arrived and never before the chunk
 * ahead of it, so the byte stream stays in order and every round trip takes the delay longer.
 */
export async function startForwarder(
  listen: { host: string },
  target: { host: string; port: number },
): Promise<Forwarder> {
  if (!/^(127\.|localhost$|::1$)/.test(target.host))
    throw new Error(`the forwarder relays to loopback only, not ${target.host}`);
  let oneWayMs = 0;
  const sockets = new Set<net.Socket>();

  /** Writes chunks from `from` to `to` after the current one-way delay, in order. */
  const relay = (from: net.Socket, to: net.Socket) => {
    const queue: Array<{ at: number; chunk: Buffer }> = [];
    let lastAt = 0;
    let timer: NodeJS.Timeout | null = null;
    const pump = () => {
      timer = null;
      const now = Date.now();
      while (queue.length && queue[0].at <= now) {
        if (!to.destroyed) to.write(queue.shift()!.chunk);
        else queue.shift();
      }
      if (queue.length) timer = setTimeout(pump, queue[0].at - now);
    };
    from.on('data', (chunk: Buffer) => {
      if (oneWayMs === 0 && queue.length === 0) {
        // No delay: plain relaying with backpressure.
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
        return;
      }
      lastAt = Math.max(Date.now() + oneWayMs, lastAt);
      queue.push({ at: lastAt, chunk });
      if (!timer) timer = setTimeout(pump, Math.max(0, queue[0].at - Date.now()));
    });
    from.on('close', () => {
      if (timer) clearTimeout(timer);
    });
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      // Nagle's algorithm against the peer's delayed ACKs would add tens of ms to every query by itself.
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    relay(client, upstream);
    relay(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listen.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    open: () => sockets.size / 2,
    setDelay(roundTripMs) {
      oneWayMs = Math.max(0, Math.round(roundTripMs / 2));
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
