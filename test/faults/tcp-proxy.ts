import net, { type AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections currently open on the client's side. */
  open(): number;
  /** Connections accepted and relayed since the proxy started. */
  accepted(): number;
  /**
   * A NAT or firewall on the way forgets every flow it relays now: their bytes are swallowed in both directions and
   * neither end is told, not even when the other closes. New connections are relayed as before.
   */
  stall(): void;
  /** The server "goes away": every relayed connection is reset and new ones are refused until `restore`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP relay to another loopback service. Cutting it looks to the client exactly like that server
 * restarting (connections reset mid-query, new connections refused), without touching the shared server.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  if (!/^(127\.|localhost$|::1$)/.test(target.host))
    throw new Error(`the proxy relays to loopback only, not ${target.host}`);
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  let up = true;
  let accepted = 0;
  const server = net.createServer((client) => {
    if (!up) {
      client.resetAndDestroy();
      return;
    }
    accepted++;
    clients.add(client);
    client.on('close', () => clients.delete(client));
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    open: () => clients.size,
    accepted: () => accepted,
    stall() {
      for (const s of sockets) {
        s.unpipe();
        s.removeAllListeners('data');
        s.on('data', () => undefined);
        // Neither side hears the other hang up: only each side's own bookkeeping stays.
        s.removeAllListeners('close');
        s.on('close', () => {
          sockets.delete(s);
          clients.delete(s);
        });
        // Unpiped, a stream is paused: resumed, it still reads (and drops) bytes and sees its peer hang up.
        s.resume();
      }
    },
    cut() {
      up = false;
      for (const s of sockets) s.resetAndDestroy();
    },
    restore() {
      up = true;
    },
    async close() {
      up = false;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
