import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { verifiedTls } from '../ssrf-guard.js';
import type { BrokerDestination } from './destination.js';

/** What one attempt publishes: the body as sent over HTTP, and the signature headers as message headers. */
export interface BrokerMessage {
  body: string;
  /** Lowercase names: webhook-id, webhook-timestamp, webhook-signature, x-escalatr-signature, … */
  headers: Record<string, string>;
  /** The event id: a broker that deduplicates (JetStream) sees a retry as the same message. */
  messageId: string;
}

/**
 * The signature and event headers as a broker message carries them: lowercase names (MQTT user properties and Redis
 * fields are case-sensitive; one spelling everywhere), without HTTP's content type and user agent.
 */
export function brokerMessageHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower !== 'content-type' && lower !== 'user-agent') out[lower] = value;
  }
  return out;
}

/**
 * A broker that answered and said no — wrong credentials, or a destination it refuses (no such exchange, no stream
 * for the subject, a key of another type). `answer` is the broker's own words, recorded on the attempt.
 */
export class BrokerRefusal extends Error {
  constructor(
    readonly refusal: 'auth' | 'rejected',
    readonly answer: string,
  ) {
    super(answer);
    this.name = 'BrokerRefusal';
  }
}

/** One open connection to one destination, reused by the attempts sent there until it breaks or sits idle. */
export interface BrokerConnection {
  /** Resolves with the broker's acknowledgement in words (stream and sequence, entry id…) once it has the message. */
  publish(destination: BrokerDestination, message: BrokerMessage, timeoutMs: number): Promise<string>;
  /** The broker closed it or the network broke it: the next attempt opens a new one. */
  readonly broken: boolean;
  close(): Promise<void>;
}

/**
 * Opens a connection to `address` — the IP the address guard resolved and checked, never the host name again, so
 * DNS cannot change between the check and the connect. With `tls` (an amqps, tls, rediss or mqtts destination) the
 * connection is TLS, verified for the destination's host name. Rejects (BrokerRefusal for wrong credentials) within
 * about `timeoutMs`.
 */
export type BrokerConnector = (
  destination: BrokerDestination,
  address: string,
  timeoutMs: number,
  tls: ConnectionOptions | null,
) => Promise<BrokerConnection>;

/**
 * The TLS options of a connection to `destination` dialled at an IP: SNI and the certificate's check name the
 * destination's host (an IP host is checked as that IP), verification always on; `extra` adds a private CA.
 */
export function brokerTls(destination: BrokerDestination, extra?: ConnectionOptions): ConnectionOptions | null {
  if (!destination.tls) return null;
  return { ...verifiedTls(extra), ...(isIP(destination.host) ? {} : { servername: destination.host }) };
}

/** An IP literal as a host:port authority (IPv6 in brackets). */
export function authority(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
