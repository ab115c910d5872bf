/**
 * An endpoint's destination type and the fields of a broker destination, turned into the URL the server stores and
 * back. The server checks the URL again and is the authority; this only builds it and catches empty fields early.
 */

import { BROKER_SCHEMES, brokerSchemeOf, type BrokerScheme } from '../../../src/webhooks/brokers/schemes';

export type DestinationType = 'https' | 'amqp' | 'nats' | 'redis' | 'mqtt';

export const DESTINATION_TYPES: { value: DestinationType; label: string }[] = [
  { value: 'https', label: 'HTTPS' },
  { value: 'amqp', label: 'AMQP (RabbitMQ)' },
  { value: 'nats', label: 'NATS JetStream' },
  { value: 'redis', label: 'Redis stream' },
  { value: 'mqtt', label: 'MQTT' },
];

type BrokerType = Exclude<DestinationType, 'https'>;

/** A broker's scheme, plain or over TLS (NATS over TLS is tls://, as NATS tools write it). */
const schemeOf = (type: BrokerType, tls: boolean): BrokerScheme =>
  BROKER_SCHEMES.find((s) => s.kind === type && s.tls === tls)!;

/** What the path names for each broker, as the card labels it. */
export const NAME_LABELS: Record<BrokerType, { label: string; placeholder: string }> = {
  amqp: { label: 'Exchange', placeholder: 'escalations' },
  nats: { label: 'Subject', placeholder: 'escalatr.events' },
  redis: { label: 'Stream', placeholder: 'escalatr:events' },
  mqtt: { label: 'Topic', placeholder: 'escalatr/events' },
};

export interface BrokerFields {
  host: string;
  port: string;
  username: string;
  /** Never filled from the server (it does not send it back); empty keeps the stored one for the same host. */
  password: string;
  name: string;
  routingKey: string;
  vhost: string;
  maxLen: string;
  /** The connection is TLS (amqps, tls, rediss, mqtts), the broker's certificate checked for the host. */
  tls: boolean;
}

export const EMPTY_BROKER: BrokerFields = {
  host: '',
  port: '',
  username: '',
  password: '',
  name: '',
  routingKey: '',
  vhost: '',
  maxLen: '',
  tls: false,
};

export function destinationTypeOf(url: string): DestinationType {
  const scheme = /^([a-z]+):\/\//i.exec(url)?.[1] ?? '';
  return brokerSchemeOf(scheme)?.kind ?? 'https';
}

/** The fields of a stored broker URL (which carries no password). */
export function brokerFieldsOf(url: string): BrokerFields {
  try {
    const u = new URL(url);
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    return {
      host: u.hostname,
      port: u.port,
      username: decode(u.username),
      password: '',
      name: decode(u.pathname.replace(/^\//, '')),
      routingKey: u.searchParams.get('routing_key') ?? '',
      vhost: u.searchParams.get('vhost') ?? '',
      maxLen: u.searchParams.get('maxlen') ?? '',
      tls: brokerSchemeOf(u.protocol)?.tls ?? false,
    };
  } catch {
    return { ...EMPTY_BROKER };
  }
}

/** The URL for a broker destination's fields. Topics keep their slashes; everything else is percent-encoded. */
export function brokerUrl(type: BrokerType, f: BrokerFields): string {
  const user = f.username.trim();
  const auth =
    user || f.password ? `${encodeURIComponent(user)}${f.password ? `:${encodeURIComponent(f.password)}` : ''}@` : '';
  const port = f.port.trim() || defaultPort(type, f.tls);
  const name = f.name
    .trim()
    .split('/')
    // Colons are common in stream and exchange names and need no escaping in a path.
    .map((part) => encodeURIComponent(part).replace(/%3A/gi, ':'))
    .join('/');
  const query = new URLSearchParams();
  if (type === 'amqp' && f.routingKey.trim()) query.set('routing_key', f.routingKey.trim());
  if (type === 'amqp' && f.vhost.trim()) query.set('vhost', f.vhost.trim());
  if (type === 'redis' && f.maxLen.trim()) query.set('maxlen', f.maxLen.trim());
  const search = query.toString();
  const { scheme } = schemeOf(type, f.tls);
  return `${scheme}://${auth}${f.host.trim()}:${port}/${name}${search ? `?${search}` : ''}`;
}

/** Empty or malformed broker fields, in the card's words. */
export function brokerProblems(
  type: BrokerType,
  f: BrokerFields,
): Partial<Record<'host' | 'port' | 'name' | 'maxLen', string>> {
  const out: Partial<Record<'host' | 'port' | 'name' | 'maxLen', string>> = {};
  if (!/^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$/.test(f.host.trim()))
    out.host = 'Enter the broker host name or IP address.';
  const port = f.port.trim();
  if (port && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535))
    out.port = 'Enter a port from 1 to 65535, or leave it empty for the default.';
  const name = f.name.trim();
  if (type === 'amqp' && !name && !f.routingKey.trim())
    out.name = 'Name an exchange, or a queue as routing key for the default exchange.';
  if (type !== 'amqp' && !name) out.name = `Enter the ${NAME_LABELS[type].label.toLowerCase()}.`;
  const wildcards = type === 'nats' ? /[*>\s]/ : type === 'mqtt' ? /[+#]/ : null;
  if (wildcards?.test(name)) out.name = 'Wildcards are for subscribers; name one exact destination.';
  if (type === 'redis' && f.maxLen.trim() && !/^[1-9]\d{0,7}$/.test(f.maxLen.trim()))
    out.maxLen = 'Enter a whole number of entries, or leave it empty for 10,000.';
  return out;
}

export const defaultPort = (type: BrokerType, tls: boolean) => String(schemeOf(type, tls).port);
