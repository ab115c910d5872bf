import { connect, headers as natsHeaders, type JetStreamClient, type NatsConnection, type TlsOptions } from 'nats';
import { authority, BrokerRefusal, type BrokerConnection, type BrokerConnector } from './connection.js';

/** nats.js says what failed in `code`; these are the broker answering no, the rest is the network or the clock. */
function refusalOf(err: unknown): BrokerRefusal | BrokerUnreachable | null {
  const code = (err as { code?: unknown } | null)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (code === 'AUTHORIZATION_VIOLATION' || code === 'AUTHENTICATION_EXPIRED' || /authori[sz]ation/i.test(text))
    return new BrokerRefusal('auth', text);
  if (code === '503') return new BrokerRefusal('rejected', 'no responders: no JetStream stream takes this subject');
  if (code === 'CONNECTION_REFUSED') return new BrokerUnreachable('ECONNREFUSED', text);
  if (code === 'TIMEOUT' || code === 'CONNECTION_TIMEOUT') return new BrokerUnreachable('ETIMEDOUT', text);
  // A JetStream API error ("maximum messages exceeded", "wrong last sequence"…) carries the server's words.
  if (typeof code === 'string' && /^\d{3}$/.test(code)) return new BrokerRefusal('rejected', text);
  return null;
}

/** nats.js's own codes, translated to the socket codes the attempt classifier knows. */
class BrokerUnreachable extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * NATS with JetStream: success is the stream's publish acknowledgement, not the fire-and-forget core publish. The
 * event id is the JetStream message id, so a retry of a publish whose acknowledgement was lost is stored once.
 */
class NatsBrokerConnection implements BrokerConnection {
  broken = false;
  private readonly js: JetStreamClient;

  constructor(private readonly nc: NatsConnection) {
    this.js = nc.jetstream();
    void nc.closed().then(() => (this.broken = true));
  }

  async publish(
    destination: Parameters<BrokerConnection['publish']>[0],
    message: Parameters<BrokerConnection['publish']>[1],
    timeoutMs: number,
  ): Promise<string> {
    const h = natsHeaders();
    for (const [name, value] of Object.entries(message.headers)) h.set(name, value);
    try {
      const ack = await this.js.publish(destination.name, message.body, {
        headers: h,
        msgID: message.messageId,
        timeout: timeoutMs,
      });
      return `stream ${ack.stream} seq ${ack.seq}${ack.duplicate ? ' (duplicate, already stored)' : ''}`;
    } catch (err) {
      throw refusalOf(err) ?? err;
    }
  }

  async close(): Promise<void> {
    this.broken = true;
    await this.nc.close().catch(() => {});
  }
}

export const connectNats: BrokerConnector = async (destination, address, timeoutMs, tls) => {
  // A user name alone is a token (nats://token@host), as the NATS tools read such URLs.
  const credentials =
    destination.password !== null
      ? { user: destination.username ?? '', pass: destination.password }
      : destination.username !== null
        ? { token: destination.username }
        : {};
  try {
    const nc = await connect({
      servers: authority(address, destination.port),
      ...credentials,
      name: 'escalatr',
      timeout: timeoutMs,
      reconnect: false,
      maxReconnectAttempts: 0,
      // The servers a cluster advertises were never checked by the address guard: only the one given is dialled.
      ignoreClusterUpdates: true,
      noRandomize: true,
      // tls:// requires TLS, verified for the URL's host (the cast: nats' types spell cert and key more narrowly
      // than Node's). nats:// stays plain even where the server offers TLS: the client would upgrade on its own,
      // checking the certificate against the dialled address.
      tls: (tls as TlsOptions | null) ?? null,
    });
    return new NatsBrokerConnection(nc);
  } catch (err) {
    // A server that requires TLS, asked for plain: the client starts TLS anyway and fails reading its own null TLS
    // options ("Cannot destructure property 'certFile' of 'this.options.tls'"). Say what the server wants instead.
    if (!tls && err instanceof Error && /options\.tls\b/.test(err.message))
      throw new BrokerRefusal('rejected', 'the NATS server requires TLS: use a tls:// URL');
    throw refusalOf(err) ?? err;
  }
};
