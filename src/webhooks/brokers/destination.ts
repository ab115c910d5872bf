/**
 * A broker destination as an endpoint URL names it: the scheme picks the broker, the path the exchange, subject,
 * stream or topic, and the query the few settings each has. One parser serves the save-time check (with messages a
 * tenant can act on) and the sender.
 */

import { brokerSchemeOf, type BrokerKind, type BrokerScheme } from './schemes.js';

/** The broker schemes as messages name them. */
export const BROKER_SCHEMES_TEXT = 'amqp(s)://, nats:// (tls:// for NATS over TLS), redis(s):// or mqtt(s)://';

/** The refusal of a URL whose scheme is neither HTTP's nor a broker's. */
export const UNKNOWN_SCHEME = `URL must start with https://, or name a message broker: ${BROKER_SCHEMES_TEXT}`;

/** MQTT topics are published to, never subscribed through: no wildcard, whichever way it is typed. */
const MQTT_WILDCARD_REFUSAL = 'the topic must not contain the wildcards + and # (and at most 1024 bytes)';

/** The port a broker URL of this scheme (`amqps:`) means when it names none; undefined for other schemes. */
export const brokerDefaultPort = (protocol: string): number | undefined => brokerSchemeOf(protocol)?.port;

/** Redis streams are trimmed to about this many entries unless the URL says `?maxlen=`. */
const DEFAULT_STREAM_MAXLEN = 10_000;
const MAX_STREAM_MAXLEN = 10_000_000;

export interface BrokerDestination {
  kind: BrokerKind;
  /** TLS (amqps, tls, rediss, mqtts): the broker's certificate is verified for `host`, whichever address is dialled. */
  tls: boolean;
  /** The host as written (lowercased), IPv6 without brackets; the address guard resolves and checks it per connect. */
  host: string;
  port: number;
  username: string | null;
  password: string | null;
  /** The exchange (AMQP; '' is the default exchange), subject (NATS), stream key (Redis) or topic (MQTT). */
  name: string;
  /** AMQP only: the routing key ('' unless `?routing_key=`). */
  routingKey: string;
  /** AMQP only: the virtual host ('/' unless `?vhost=`). */
  vhost: string;
  /** Redis only: the approximate length the stream is trimmed to on each XADD. */
  maxLen: number;
}

export class BrokerUrlError extends Error {}

const QUERY_KEYS: Record<BrokerKind, readonly string[]> = {
  amqp: ['routing_key', 'vhost'],
  nats: [],
  redis: ['maxlen'],
  mqtt: [],
};

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?|\[[0-9a-f:.]+\])$/i;

export function isBrokerUrl(raw: string): boolean {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1];
  return scheme !== undefined && brokerSchemeOf(scheme) !== undefined;
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new BrokerUrlError(`the ${what} is not valid percent-encoding`);
  }
}

/** `protocol` as the URL parser gives it, lowercased (`tls:`): its scheme picks the broker, and the hints repeat it. */
function checkName(protocol: string, scheme: BrokerScheme, name: string, routingKey: string): void {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
  if (/[\x00-\x1f\x7f]/.test(name)) throw new BrokerUrlError('the path must not contain control characters');
  switch (scheme.kind) {
    case 'amqp':
      if (name.length > 255 || !/^[A-Za-z0-9_.:-]*$/.test(name))
        throw new BrokerUrlError('the exchange (the path) may use letters, digits, - _ . : and at most 255 characters');
      if (Buffer.byteLength(routingKey) > 255) throw new BrokerUrlError('routing_key must be at most 255 bytes');
      if (name === '' && routingKey === '')
        throw new BrokerUrlError('name an exchange in the path, or a queue as routing_key for the default exchange');
      return;
    case 'nats':
      if (!name) throw new BrokerUrlError(`name the subject in the path: ${protocol}//host:${scheme.port}/subject`);
      if (name.length > 255 || !/^[^\s.*>]+(\.[^\s.*>]+)*$/.test(name))
        throw new BrokerUrlError('the subject must be dot-separated tokens without spaces or the wildcards * and >');
      return;
    case 'redis':
      if (!name) throw new BrokerUrlError(`name the stream in the path: ${protocol}//host:${scheme.port}/stream`);
      if (name.length > 512) throw new BrokerUrlError('the stream name must be at most 512 characters');
      return;
    case 'mqtt':
      if (!name) throw new BrokerUrlError(`name the topic in the path: ${protocol}//host:${scheme.port}/topic`);
      if (Buffer.byteLength(name) > 1024 || /[+#]/.test(name)) throw new BrokerUrlError(MQTT_WILDCARD_REFUSAL);
      return;
  }
}

/** Reads a broker URL; throws BrokerUrlError with a message fit to show whoever typed it (never the password). */
export function parseBrokerUrl(raw: string): BrokerDestination {
  // In an MQTT topic `#` is the multi-level wildcard, which a URL would otherwise read as the start of a fragment
  // and drop: named as the wildcard it is. No broker URL has a fragment.
  if (/^mqtts?:\/\/[^/?#]*\/[^?#]*#/i.test(raw)) throw new BrokerUrlError(MQTT_WILDCARD_REFUSAL);
  if (raw.includes('#')) throw new BrokerUrlError('URL must not contain a fragment (#…)');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BrokerUrlError('URL is not a valid URL');
  }
  const protocol = url.protocol.toLowerCase();
  const scheme = brokerSchemeOf(protocol);
  if (!scheme) throw new BrokerUrlError(UNKNOWN_SCHEME);
  const { kind } = scheme;
  const host = url.hostname.toLowerCase();
  if (!host || !HOST.test(host)) throw new BrokerUrlError('URL must name a host (a DNS name or an IP address)');
  const port = url.port ? Number(url.port) : scheme.port;
  for (const key of url.searchParams.keys()) {
    if (!QUERY_KEYS[kind].includes(key))
      throw new BrokerUrlError(
        QUERY_KEYS[kind].length
          ? `unknown setting "${key.slice(0, 50)}"; ${kind}:// URLs take ${QUERY_KEYS[kind].join(', ')}`
          : `${kind}:// URLs take no query settings`,
      );
  }
  const name = decode(url.pathname.replace(/^\//, ''), 'path');
  const routingKey = url.searchParams.get('routing_key') ?? '';
  checkName(protocol, scheme, name, routingKey);
  let maxLen = DEFAULT_STREAM_MAXLEN;
  const maxLenText = url.searchParams.get('maxlen');
  if (maxLenText !== null) {
    maxLen = Number(maxLenText);
    if (!/^\d+$/.test(maxLenText) || maxLen < 1 || maxLen > MAX_STREAM_MAXLEN)
      throw new BrokerUrlError(`maxlen must be a whole number from 1 to ${MAX_STREAM_MAXLEN}`);
  }
  return {
    kind,
    tls: scheme.tls,
    host: host.startsWith('[') ? host.slice(1, -1) : host,
    port,
    username: url.username ? decode(url.username, 'user name') : null,
    password: url.password ? decode(url.password, 'password') : null,
    name,
    routingKey,
    vhost: url.searchParams.get('vhost') ?? '/',
    maxLen,
  };
}

/**
 * The URL as stored and shown: the host lowercased, the scheme's own port left out (as for https://), the password
 * taken out (it is sealed on its own). Two spellings of one broker are then one stored value.
 */
export function withoutPassword(raw: string): string {
  const url = new URL(raw);
  url.password = '';
  url.hostname = url.hostname.toLowerCase();
  if (url.port && Number(url.port) === brokerDefaultPort(url.protocol)) url.port = '';
  return url.href;
}
