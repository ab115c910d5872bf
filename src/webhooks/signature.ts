import { createHmac, randomBytes } from 'node:crypto';

/**
 * Signing and header building for outbound webhooks.
 *
 * Two signature schemes travel on every delivery:
 *  - `X-Escalatr-Signature`: the original published scheme, hex HMAC-SHA256 of the raw body keyed with the
 *    *whole* secret string (`whsec_…` as UTF-8 bytes). Receivers built from the published Node example compare
 *    it with `timingSafeEqual` against a single hex digest, so this header always carries exactly one signature:
 *    the current secret's.
 *  - Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), keyed with the base64-decoded part
 *    after `whsec_`. Its signature header is a space-separated list by design, so during a secret-rotation grace period
 *    it carries one `v1,…` entry per valid secret and receivers holding either secret verify.
 *
 * Grace period and that scheme: a comma-separated list in `X-Escalatr-Signature` would make the published example's
 * `timingSafeEqual(Buffer.from(sig), Buffer.from(expected))` throw on the length mismatch, breaking *every*
 * receiver written from it. Instead the previous secrets' hex signatures go in a separate
 * `X-Escalatr-Signature-Previous` header (space-separated, only present during a grace period). Such a receiver
 * still holding the old secret must check that header to ride out a rotation; Standard Webhooks receivers need
 * nothing extra.
 */

const SECRET_PREFIX = 'whsec_';
const USER_AGENT = 'Escalatr-Webhooks/1.0';

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** The published `X-Escalatr-Signature`: hex HMAC-SHA256 of the raw body keyed with the whole secret string. */
export function signEscalatr(secret: string, body: string | Buffer): string {
  if (!secret) throw new Error('webhook secret is empty');
  return createHmac('sha256', secret).update(body).digest('hex');
}

function standardKey(secret: string): Buffer {
  // Same rule as the standardwebhooks package: the prefix is optional, the rest is base64.
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new Error('webhook secret has no key material after whsec_');
  return key;
}

/** Standard Webhooks signature: `v1,` + base64 HMAC-SHA256 of `{msgId}.{timestampSec}.{body}`. */
export function signStandard(secret: string, msgId: string, timestampSec: number, body: string | Buffer): string {
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) throw new Error('timestampSec must be whole seconds');
  const mac = createHmac('sha256', standardKey(secret));
  // Sign the raw body bytes, so a Buffer and the string it decodes from give the same signature.
  mac.update(`${msgId}.${timestampSec}.`, 'utf8');
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

export type AuthType = 'none' | 'bearer' | 'api_key' | 'custom_header';

export interface EndpointAuth {
  type: AuthType;
  token?: string | null;
  header_name?: string | null;
}

// RFC 9110 token characters (the tchar rule).
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// Headers the transport or this module owns; letting an endpoint's auth config set them would break framing
// or let a credential masquerade as (or overwrite) a signature.
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'user-agent',
  'idempotency-key',
]);
const RESERVED_PREFIXES = ['x-escalatr-', 'webhook-', 'proxy-', 'sec-', ':'];

/** Why `name` cannot be a custom auth header name, or null when it can. */
export function validateAuthHeaderName(name: string): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'header name is required';
  if (name.length > 256) return 'header name must be at most 256 characters';
  if (!TOKEN_RE.test(name)) return "header name may only contain letters, digits and !#$%&'*+-.^_`|~";
  const lower = name.toLowerCase();
  if (RESERVED_HEADERS.has(lower) || RESERVED_PREFIXES.some((p) => lower.startsWith(p))) {
    return `"${name}" is reserved and cannot carry a credential`;
  }
  return null;
}

/**
 * Why `value` cannot be sent as a header value, or null when it can. Never echoes the value: it is a credential.
 * Bytes outside visible ASCII are refused so what the receiver sees is exactly what the user typed.
 */
function validateHeaderValue(value: string): string | null {
  if (value.length === 0) return 'credential is empty';
  if (value.length > 8192) return 'credential must be at most 8192 characters';
  if (!/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value)) {
    return 'credential may only contain visible ASCII characters, without leading or trailing spaces';
  }
  return null;
}

/** Why an endpoint's auth settings cannot be used, or null when they can. Messages never contain the credential. */
export function validateAuthConfig(auth: EndpointAuth | null | undefined): string | null {
  if (!auth || auth.type === 'none') return null;
  if (auth.type !== 'bearer' && auth.type !== 'api_key' && auth.type !== 'custom_header') return 'unknown auth type';
  const tokenError = validateHeaderValue(auth.token ?? '');
  if (tokenError) return tokenError;
  if (auth.type === 'custom_header') return validateAuthHeaderName(auth.header_name ?? '');
  return null;
}

export interface DeliveryHeaderInput {
  eventName: string;
  eventId: string;
  body: string | Buffer;
  /** Current secret first, then any previous secret still inside its grace period. */
  secrets: readonly string[];
  idempotencyKey: string;
  timestampSec: number;
  auth?: EndpointAuth | null;
}

/**
 * The signature headers of one attempt, both schemes: `X-Escalatr-Signature` (hex, the current secret; the previous
 * secrets' in `X-Escalatr-Signature-Previous`) and the Standard Webhooks trio, whose signature lists every secret.
 */
export function signatureHeaders(
  msgId: string,
  timestampSec: number,
  body: string | Buffer,
  secrets: readonly string[],
): Record<string, string> {
  const [current, ...previous] = secrets;
  const headers: Record<string, string> = {
    'X-Escalatr-Signature': signEscalatr(current, body),
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': secrets.map((s) => signStandard(s, msgId, timestampSec, body)).join(' '),
  };
  if (previous.length > 0)
    headers['X-Escalatr-Signature-Previous'] = previous.map((s) => signEscalatr(s, body)).join(' ');
  return headers;
}

/**
 * Every header of one delivery attempt. Throws (without echoing credentials) on unusable input, which the caller
 * should have rejected when the endpoint was saved.
 */
export function buildDeliveryHeaders(input: DeliveryHeaderInput): Record<string, string> {
  const secrets = [...new Set(input.secrets)];
  if (secrets.length === 0) throw new Error('at least one webhook secret is required');
  for (const [name, value] of [
    ['event name', input.eventName],
    ['event id', input.eventId],
    ['idempotency key', input.idempotencyKey],
  ] as const) {
    if (validateHeaderValue(value)) throw new Error(`${name} is not a valid header value`);
  }
  const authError = validateAuthConfig(input.auth);
  if (authError) throw new Error(`invalid endpoint auth: ${authError}`);

  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': USER_AGENT,
    'X-Escalatr-Event': input.eventName,
    'Idempotency-Key': input.idempotencyKey,
    ...signatureHeaders(input.eventId, input.timestampSec, input.body, secrets),
  };

  const auth = input.auth;
  if (auth && auth.type !== 'none') {
    const token = auth.token as string;
    if (auth.type === 'bearer') headers['Authorization'] = `Bearer ${token}`;
    else if (auth.type === 'api_key') headers['X-API-Key'] = token;
    else headers[auth.header_name as string] = token;
  }
  return headers;
}
