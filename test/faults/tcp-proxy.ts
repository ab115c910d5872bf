import net, { type AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

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
  /**
   * The next time `from` (the client or the server) sends bytes holding `text` on any connection, that connection is
   * reset instead of their reaching the other side: what was sent before has arrived, these bytes are lost (a server
   * that went away just then). Once.
   */
  resetWhen(from: 'client' | 'server', text: string): void;
  /** Disarms resetWhen; whether it was still armed (the bytes never came). */
  cancelReset(): boolean;
  /** The server "goes away": every relayed connection is reset and new ones are refused until `restore`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP relay to another loopback service. Cutting it looks to the client exactly like that server
 * restarting (connections reset mid-query, new connections refused), without touching the shared server.
 */
async function startTcpProxy(
  target: { host: string; port: number },
  opts: {
    /**
     * PostgreSQL: give each client a backend process id of the relay's own in its BackendKeyData, as a connection
     * pooler (PgBouncer) does, instead of the server's.
     */
    ownBackendPids?: boolean;
  } = {},
): Promise<TcpProxy> {
  if (!/^(127\.|localhost$|::1$)/.test(target.host))
    throw new Error(`the proxy relays to loopback only, not ${target.host}`);
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  let up = true;
  let accepted = 0;
  let resetOn: { from: 'client' | 'server'; bytes: Buffer } | null = null;
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
    // Bytes from `from` pass unless a reset is armed for them (resetWhen).
    const unlessReset = (from: 'client' | 'server') =>
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          if (resetOn?.from === from && chunk.includes(resetOn.bytes)) {
            resetOn = null;
            client.resetAndDestroy();
            upstream.destroy();
            return done();
          }
          done(null, chunk);
        },
      });
    client.pipe(unlessReset('client')).pipe(upstream);
    const answers = opts.ownBackendPids ? upstream.pipe(new OwnBackendPid(0x7ff00000 + accepted)) : upstream;
    answers.pipe(unlessReset('server')).pipe(client);
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
    resetWhen(from, text) {
      resetOn = { from, bytes: Buffer.from(text) };
    },
    cancelReset() {
      const armed = resetOn !== null;
      resetOn = null;
      return armed;
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

/** A relay to the PostgreSQL server `databaseUrl` names, and that URL pointed at the relay instead. */
export async function relayToPostgres(
  databaseUrl: string,
  opts: Parameters<typeof startTcpProxy>[1] = {},
): Promise<{ proxy: TcpProxy; url: string }> {
  const url = new URL(databaseUrl);
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) }, opts);
  url.host = `127.0.0.1:${proxy.port}`;
  return { proxy, url: url.toString() };
}

/**
 * The server's side of a PostgreSQL connection with the process id in its BackendKeyData ('K') replaced: messages
 * are read whole until the first ReadyForQuery ('Z'), which ends the start-up; after it, bytes pass as they come.
 */
class OwnBackendPid extends Transform {
  private pending = Buffer.alloc(0);
  private started = false;

  constructor(private readonly pid: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.started) return done(null, chunk);
    this.pending = Buffer.concat([this.pending, chunk]);
    let at = 0;
    while (!this.started && this.pending.length - at >= 5) {
      const length = this.pending.readInt32BE(at + 1);
      if (this.pending.length - at < 1 + length) break;
      const type = String.fromCharCode(this.pending[at]);
      if (type === 'K') this.pending.writeInt32BE(this.pid, at + 5);
      if (type === 'Z') this.started = true;
      at += 1 + length;
    }
    const out = this.started ? this.pending : this.pending.subarray(0, at);
    this.pending = this.started ? Buffer.alloc(0) : this.pending.subarray(at);
    done(null, out);
  }
}
