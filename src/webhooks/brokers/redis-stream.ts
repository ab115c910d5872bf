import { Redis } from 'ioredis';
import { BrokerRefusal, type BrokerConnection, type BrokerConnector } from './connection.js';

/** A reply error ("WRONGPASS …", "WRONGTYPE …") is Redis answering; anything else is the network. */
function refusalOf(err: unknown): BrokerRefusal | null {
  const text = err instanceof Error ? err.message : '';
  if ((err as { name?: string } | null)?.name !== 'ReplyError') return null;
  return new BrokerRefusal(/^(WRONGPASS|NOAUTH|NOPERM)/.test(text) ? 'auth' : 'rejected', text);
}

/**
 * A Redis stream: each delivery is one XADD, trimmed to about `maxlen` entries so a stream nobody reads cannot fill
 * the server. The body is the field `body`; each signature header is a field of its own. Success is the entry id.
 */
class RedisStreamConnection implements BrokerConnection {
  broken = false;

  constructor(private readonly client: Redis) {
    client.on('error', () => {});
    client.on('end', () => (this.broken = true));
  }

  async publish(
    destination: Parameters<BrokerConnection['publish']>[0],
    message: Parameters<BrokerConnection['publish']>[1],
  ): Promise<string> {
    const fields = Object.entries(message.headers).flat();
    try {
      const id = await this.client.xadd(
        destination.name,
        'MAXLEN',
        '~',
        String(destination.maxLen),
        '*',
        'body',
        message.body,
        ...fields,
      );
      return `entry ${id ?? '(none)'}`;
    } catch (err) {
      throw refusalOf(err) ?? err;
    }
  }

  async close(): Promise<void> {
    this.broken = true;
    this.client.disconnect();
  }
}

export const connectRedis: BrokerConnector = async (destination, address, timeoutMs, tls) => {
  const client = new Redis({
    host: address,
    port: destination.port,
    ...(tls ? { tls } : {}),
    ...(destination.username !== null ? { username: destination.username } : {}),
    ...(destination.password !== null ? { password: destination.password } : {}),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    // An attempt fails at once and is retried on the delivery schedule, not inside the client.
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    autoResubscribe: false,
  });
  // connect() rejects with "Connection is closed."; the socket's own error (ECONNREFUSED…) says why.
  let socketError: unknown = null;
  client.on('error', (err) => (socketError ??= err));
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw refusalOf(err) ?? socketError ?? err;
  }
  return new RedisStreamConnection(client);
};
