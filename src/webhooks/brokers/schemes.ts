/**
 * The URL schemes a broker destination may start with: the broker, whether the connection is TLS, and the port when
 * the URL names none (each broker's registered one; Redis and NATS have none of their own for TLS, so the plain
 * one). NATS over TLS is `tls://`, as NATS clients and tools write it.
 *
 * Plain data with no imports: the server's URL parser (destination.ts) and the dashboard's destination form
 * (web/src/integrations/destination-url.ts) both read this one table.
 */

export type BrokerKind = 'amqp' | 'nats' | 'redis' | 'mqtt';

export interface BrokerScheme {
  /** Without its colon: `amqps`. */
  scheme: string;
  kind: BrokerKind;
  tls: boolean;
  port: number;
}

export const BROKER_SCHEMES: readonly BrokerScheme[] = [
  { scheme: 'amqp', kind: 'amqp', tls: false, port: 5672 },
  { scheme: 'amqps', kind: 'amqp', tls: true, port: 5671 },
  { scheme: 'nats', kind: 'nats', tls: false, port: 4222 },
  { scheme: 'tls', kind: 'nats', tls: true, port: 4222 },
  { scheme: 'redis', kind: 'redis', tls: false, port: 6379 },
  { scheme: 'rediss', kind: 'redis', tls: true, port: 6379 },
  { scheme: 'mqtt', kind: 'mqtt', tls: false, port: 1883 },
  { scheme: 'mqtts', kind: 'mqtt', tls: true, port: 8883 },
];

const BY_NAME = new Map(BROKER_SCHEMES.map((s) => [s.scheme, s]));

/** The broker scheme of this name, with or without its colon, in any case (`AMQPS:`); undefined for any other. */
export const brokerSchemeOf = (name: string): BrokerScheme | undefined =>
  BY_NAME.get(name.toLowerCase().replace(/:$/, ''));
