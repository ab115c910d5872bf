// Verification of Escalatr webhook deliveries. Plain JavaScript with a hand-written index.d.ts, so that it runs as it
// is on Node.js 20 — no build step between this file and a receiver — and type-checks in TypeScript receivers.
import { createHmac, timingSafeEqual } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
const DEFAULT_TOLERANCE_SECONDS = 300;
const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Why a delivery was refused; `code` is stable, `message` is for people. */
export class WebhookVerificationError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.code = code;
  }
}

const fail = (code, message) => {
  throw new WebhookVerificationError(code, message);
};

/** A header's value from a Fetch `Headers`, a Node.js header object or any plain object, by case-insensitive name. */
function headerOf(headers, name) {
  if (!headers) return undefined;
  let value;
  if (typeof headers.get === 'function') value = headers.get(name);
  else {
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    value = key === undefined ? undefined : headers[key];
  }
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function rawBytes(rawBody) {
  if (typeof rawBody === 'string') return Buffer.from(rawBody, 'utf8');
  if (Buffer.isBuffer(rawBody)) return rawBody;
  if (rawBody instanceof Uint8Array) return Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  return fail(
    'invalid_body',
    'pass the raw request body (a Buffer or string) exactly as received: parsed and re-serialized JSON no longer ' +
      'matches the signature',
  );
}

function secretList(secret) {
  const list = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    fail('invalid_secret', 'the secret must be a non-empty whsec_… string, or a list of them during a rotation');
  }
  return list;
}

/** The Standard Webhooks key: the base64 after the optional `whsec_` prefix. */
function standardKey(secret) {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  if (key.length === 0) fail('invalid_secret', 'the secret has no key material after whsec_');
  return key;
}

function sameText(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function verifyStandard(body, id, timestamp, signatures, secrets, toleranceSeconds, nowMs) {
  if (!/^\d{1,15}$/.test(timestamp)) fail('invalid_timestamp', 'webhook-timestamp must be whole seconds');
  const sent = Number(timestamp);
  const now = Math.floor(nowMs / 1000);
  if (sent < now - toleranceSeconds) {
    fail('timestamp_too_old', `the delivery was signed more than ${toleranceSeconds} s ago`);
  }
  if (sent > now + toleranceSeconds) {
    fail('timestamp_too_new', `the delivery is dated more than ${toleranceSeconds} s ahead of this clock`);
  }
  const offered = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => s.slice(3));
  for (const secret of secrets) {
    const expected = createHmac('sha256', standardKey(secret))
      .update(`${id}.${timestamp}.`, 'utf8')
      .update(body)
      .digest('base64');
    if (offered.some((s) => sameText(s, expected))) return;
  }
  fail('invalid_signature', 'no webhook-signature entry matches this body with the given secret(s)');
}

function verifyHex(body, signature, previous, secrets) {
  const offered = [signature, ...(previous ? previous.split(' ') : [])].filter(Boolean);
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(body).digest('hex');
    if (offered.some((s) => sameText(s.toLowerCase(), expected))) return;
  }
  fail('invalid_signature', 'X-Escalatr-Signature does not match this body with the given secret(s)');
}

/**
 * Verifies one delivery and returns its parsed body. Throws WebhookVerificationError with a stable `code`:
 * `missing_headers`, `invalid_signature`, `invalid_timestamp`, `timestamp_too_old`, `timestamp_too_new`,
 * `replayed`, `invalid_secret` or `invalid_body`.
 */
export function verifyWebhook(rawBody, headers, secret, options = {}) {
  const body = rawBytes(rawBody);
  const secrets = secretList(secret);
  const scheme = options.scheme ?? 'auto';
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowMs = options.now ? options.now() : Date.now();
  const id = headerOf(headers, 'webhook-id');
  const timestamp = headerOf(headers, 'webhook-timestamp');
  const signatures = headerOf(headers, 'webhook-signature');
  const hex = headerOf(headers, 'x-escalatr-signature');

  let used;
  // With Standard Webhooks headers present, they decide: they carry the timestamp that makes stale and replayed
  // deliveries detectable, and stripping them must not fall back to the scheme that has none.
  if (scheme === 'standard' || (scheme === 'auto' && (id || timestamp || signatures))) {
    if (!id || !timestamp || !signatures) {
      fail('missing_headers', 'webhook-id, webhook-timestamp and webhook-signature are all required');
    }
    verifyStandard(body, id, timestamp, signatures, secrets, toleranceSeconds, nowMs);
    if (options.replayGuard && options.replayGuard.seen(`${id}.${timestamp}.${signatures}`, Number(timestamp), nowMs)) {
      fail('replayed', 'this exact delivery (id, timestamp and signature) was verified before');
    }
    used = 'standard';
  } else if (scheme === 'escalatr' || scheme === 'auto') {
    if (!hex) {
      fail(
        'missing_headers',
        'no signature: expected webhook-id, webhook-timestamp and webhook-signature, or X-Escalatr-Signature',
      );
    }
    verifyHex(body, hex, headerOf(headers, 'x-escalatr-signature-previous'), secrets);
    used = 'escalatr';
  } else {
    fail('invalid_options', 'scheme must be auto, standard or escalatr');
  }

  let payload;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    fail('invalid_body', 'the signed body is not JSON');
  }
  return {
    scheme: used,
    id: id ?? null,
    timestamp: timestamp === undefined ? null : Number(timestamp),
    event: headerOf(headers, 'x-escalatr-event') ?? (typeof payload?.event === 'string' ? payload.event : null),
    idempotencyKey: headerOf(headers, 'idempotency-key') ?? null,
    payload,
  };
}

/**
 * Remembers verified deliveries for as long as their timestamp is inside the tolerance (after that the timestamp
 * check refuses them anyway), so a captured request sent again is refused. A retry from Escalatr is a new request
 * with a new timestamp and signature, so it passes; deduplicate retries by `idempotencyKey` if that matters.
 */
export function createReplayGuard(options = {}) {
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const maxEntries = options.maxEntries ?? 100_000;
  const seenAt = new Map();
  return {
    seen(key, timestampSec, nowMs) {
      const oldest = Math.floor(nowMs / 1000) - toleranceSeconds;
      for (const [k, ts] of seenAt) {
        if (ts >= oldest && seenAt.size < maxEntries) break;
        seenAt.delete(k);
      }
      if (seenAt.has(key)) return true;
      seenAt.set(key, timestampSec);
      return false;
    },
    get size() {
      return seenAt.size;
    },
  };
}

function errorBody(err) {
  return { error: { code: err.code, message: err.message } };
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      if (size > limit) return; // refused already: the rest is read and dropped, so the answer can be sent
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        reject(new WebhookVerificationError('body_too_large', `the body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Express (or plain Node.js `http`) middleware: reads the raw body itself — or takes the Buffer `express.raw()`
 * left — verifies it, and sets `req.webhook` (the verified delivery) and `req.body` (its parsed payload). A refused
 * delivery is answered 400 (413 when too large) with `{"error": {"code", "message"}}`. Mount it before any JSON
 * body parser on the webhook route.
 */
export function expressWebhook(options) {
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  return function escalatrWebhook(req, res, next) {
    const raw = Buffer.isBuffer(req.body)
      ? Promise.resolve(req.body)
      : req.readableEnded || (req.body !== undefined && req.body !== null)
        ? Promise.reject(
            new WebhookVerificationError(
              'invalid_body',
              'the body was parsed before verification: mount this middleware before express.json()',
            ),
          )
        : readBody(req, limit);
    raw
      .then((bytes) => {
        req.rawBody = bytes;
        req.webhook = verifyWebhook(bytes, req.headers, options.secret, options);
        req.body = req.webhook.payload;
        next();
      })
      .catch((err) => {
        if (!(err instanceof WebhookVerificationError)) return next(err);
        res.statusCode = err.code === 'body_too_large' ? 413 : 400;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(errorBody(err)));
      });
  };
}

/**
 * Fastify plugin for an encapsulated scope (register it inside the scope that holds the webhook route): bodies in
 * that scope stay raw bytes, each request is verified before its handler, and `request.webhook` holds the verified
 * delivery while `request.body` holds its payload. A refused delivery is answered 400 with `{"error": {...}}`.
 */
export async function fastifyWebhook(fastify, options) {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );
  fastify.decorateRequest('webhook', null);
  fastify.addHook('preHandler', async (request, reply) => {
    try {
      request.webhook = verifyWebhook(request.body ?? '', request.headers, options.secret, options);
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      return reply.code(400).send(errorBody(err));
    }
    request.body = request.webhook.payload;
  });
}
// Applies to the scope it is registered in (what fastify-plugin does), not to a child scope of its own: the scope
// is the caller's, so their other routes keep Fastify's JSON parser.
fastifyWebhook[Symbol.for('skip-override')] = true;
