import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import {
  buildDeliveryHeaders,
  newWebhookSecret,
  signEscalatr,
  signStandard,
  validateAuthConfig,
  validateAuthHeaderName,
} from '../../src/webhooks/signature.js';

/**
 * The seed's Express handler ("Verify signatures"), kept line for line and adapted to a function:
 * `req.body` is the raw Buffer, `req.get(name)` reads a header, the return value is the status it would send.
 * Its timingSafeEqual throws on a length mismatch; Express would answer 500, so a throw is reported as 500.
 */
function seedReceiver(rawBody: Buffer, headers: Record<string, string>, envSecret: string): number {
  const req = { body: rawBody, get: (name: string) => headerLookup(headers, name) };
  try {
    const secret = envSecret; // whsec_...
    const expected = crypto
      .createHmac('sha256', secret)
      .update(req.body) // raw Buffer
      .digest('hex');
    const sig = req.get('X-Escalatr-Signature');
    if (!sig || !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) {
      return 401;
    }
    const payload = JSON.parse(req.body.toString());
    void payload.event;
    return 200;
  } catch {
    return 500;
  }
}

function headerLookup(headers: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

const nowSec = () => Math.floor(Date.now() / 1000);

const body = JSON.stringify({
  id: 'evt_01HZX',
  event: 'complaint.escalated',
  timestamp: '2026-06-13T07:45:12.004Z',
  data: { escalatr_id: 'ESC-VOLT-260417-00010', status: 'Escalated', escalation_level: 'L2', note: 'naïve ✓ 日本' },
});

function headersFor(secrets: string[], overrides: Partial<Parameters<typeof buildDeliveryHeaders>[0]> = {}) {
  return buildDeliveryHeaders({
    eventName: 'complaint.escalated',
    eventId: 'evt_01HZX',
    body,
    secrets,
    idempotencyKey: 'dlv_abc123',
    timestampSec: nowSec(),
    ...overrides,
  });
}

describe('newWebhookSecret', () => {
  it('is whsec_ + base64 of 32 random bytes', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});

describe('signEscalatr (X-Escalatr-Signature)', () => {
  it('matches a fixed HMAC-SHA256 vector keyed with the whole whsec_ string', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const expected = crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update('{"a":1}').digest('hex');
    expect(signEscalatr(secret, '{"a":1}')).toBe(expected);
    expect(signEscalatr(secret, '{"a":1}')).toMatch(/^[0-9a-f]{64}$/);
    // Keyed with the whole string, not the decoded key material.
    const decodedKey = Buffer.from(secret.slice(6), 'base64');
    expect(signEscalatr(secret, '{"a":1}')).not.toBe(
      crypto.createHmac('sha256', decodedKey).update('{"a":1}').digest('hex'),
    );
  });

  it('gives the same signature for a string body and its UTF-8 bytes', () => {
    const secret = newWebhookSecret();
    expect(signEscalatr(secret, body)).toBe(signEscalatr(secret, Buffer.from(body, 'utf8')));
  });

  it('passes the seed verification code, and fails it for a tampered body or another secret', () => {
    const secret = newWebhookSecret();
    const headers = headersFor([secret]);
    const raw = Buffer.from(body, 'utf8');
    expect(seedReceiver(raw, headers, secret)).toBe(200);
    expect(seedReceiver(Buffer.from(body.replace('L2', 'L3')), headers, secret)).toBe(401);
    expect(seedReceiver(Buffer.from(JSON.stringify(JSON.parse(body), null, 2)), headers, secret)).toBe(401);
    expect(seedReceiver(raw, headers, newWebhookSecret())).toBe(401);
    expect(seedReceiver(raw, { ...headers, 'X-Escalatr-Signature': '' }, secret)).toBe(401);
  });

  it('would break the seed code if several signatures were comma-joined (why the header carries one)', () => {
    const secret = newWebhookSecret();
    const joined = `${signEscalatr(secret, body)},${signEscalatr(newWebhookSecret(), body)}`;
    expect(seedReceiver(Buffer.from(body), { 'X-Escalatr-Signature': joined }, secret)).toBe(500);
  });
});

describe('signStandard (Standard Webhooks)', () => {
  it('matches the standardwebhooks package signer', () => {
    const secret = newWebhookSecret();
    const ts = nowSec();
    const theirs = new Webhook(secret).sign('evt_1', new Date(ts * 1000), body);
    expect(signStandard(secret, 'evt_1', ts, body)).toBe(theirs);
    expect(signStandard(secret, 'evt_1', ts, Buffer.from(body))).toBe(theirs);
  });

  it('matches a known-answer vector from the Standard Webhooks spec', () => {
    // From the standard-webhooks reference test suite.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const sig = signStandard(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('rejects non-integer timestamps and empty keys', () => {
    expect(() => signStandard(newWebhookSecret(), 'm', 1.5, 'x')).toThrow();
    expect(() => signStandard('whsec_', 'm', 1, 'x')).toThrow();
  });
});

describe('buildDeliveryHeaders', () => {
  it('builds every header of SPEC §5 and verifies with the standardwebhooks package', () => {
    const secret = newWebhookSecret();
    const ts = nowSec();
    const headers = headersFor([secret], { timestampSec: ts });
    expect(headers).toEqual({
      'Content-Type': 'application/json',
      'User-Agent': 'Escalatr-Webhooks/1.0',
      'X-Escalatr-Event': 'complaint.escalated',
      'X-Escalatr-Signature': signEscalatr(secret, body),
      'Idempotency-Key': 'dlv_abc123',
      'webhook-id': 'evt_01HZX',
      'webhook-timestamp': String(ts),
      'webhook-signature': signStandard(secret, 'evt_01HZX', ts, body),
    });
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('fails standardwebhooks verification for a tampered body, a wrong secret, a changed id or timestamp', () => {
    const secret = newWebhookSecret();
    const headers = headersFor([secret]);
    expect(() => new Webhook(secret).verify(body.replace('L2', 'L3'), headers)).toThrow(/signature/i);
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow(/signature/i);
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'evt_other' })).toThrow(/signature/i);
    expect(() =>
      new Webhook(secret).verify(body, {
        ...headers,
        'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1),
      }),
    ).toThrow(/signature/i);
  });

  it('after rotation without grace, the old secret fails both schemes', () => {
    const oldSecret = newWebhookSecret();
    const newSecret = newWebhookSecret();
    const headers = headersFor([newSecret]);
    expect(seedReceiver(Buffer.from(body), headers, oldSecret)).toBe(401);
    expect(() => new Webhook(oldSecret).verify(body, headers)).toThrow(/signature/i);
    expect(headers).not.toHaveProperty('X-Escalatr-Signature-Previous');
    expect(seedReceiver(Buffer.from(body), headers, newSecret)).toBe(200);
    expect(new Webhook(newSecret).verify(body, headers)).toBeTruthy();
  });

  it('during a grace period verifies with either secret in standardwebhooks, and carries the old hex separately', () => {
    const oldSecret = newWebhookSecret();
    const newSecret = newWebhookSecret();
    const ts = nowSec();
    const headers = headersFor([newSecret, oldSecret], { timestampSec: ts });

    const sigs = headers['webhook-signature'].split(' ');
    expect(sigs).toEqual([
      signStandard(newSecret, 'evt_01HZX', ts, body),
      signStandard(oldSecret, 'evt_01HZX', ts, body),
    ]);
    expect(new Webhook(newSecret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow(/signature/i);

    // X-Escalatr-Signature stays a single hex digest of the current secret, so the seed code keeps working.
    expect(headers['X-Escalatr-Signature']).toBe(signEscalatr(newSecret, body));
    expect(seedReceiver(Buffer.from(body), headers, newSecret)).toBe(200);
    expect(seedReceiver(Buffer.from(body), headers, oldSecret)).toBe(401);
    // A seed-style receiver still on the old secret can check the previous-signature header with the same code.
    const previousOnly = { 'X-Escalatr-Signature': headers['X-Escalatr-Signature-Previous'] };
    expect(headers['X-Escalatr-Signature-Previous']).toBe(signEscalatr(oldSecret, body));
    expect(seedReceiver(Buffer.from(body), previousOnly, oldSecret)).toBe(200);
  });

  it('de-duplicates a repeated secret and requires at least one', () => {
    const secret = newWebhookSecret();
    const headers = headersFor([secret, secret]);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(1);
    expect(headers).not.toHaveProperty('X-Escalatr-Signature-Previous');
    expect(() => headersFor([])).toThrow(/secret/);
  });

  it('adds the configured auth header', () => {
    const secret = newWebhookSecret();
    expect(headersFor([secret], { auth: { type: 'none' } })).not.toHaveProperty('Authorization');
    expect(headersFor([secret], { auth: { type: 'bearer', token: 'tok_123' } })['Authorization']).toBe(
      'Bearer tok_123',
    );
    expect(headersFor([secret], { auth: { type: 'api_key', token: 'key_456' } })['X-API-Key']).toBe('key_456');
    const custom = headersFor([secret], {
      auth: { type: 'custom_header', token: 's3cr3t', header_name: 'X-Receiver-Token' },
    });
    expect(custom['X-Receiver-Token']).toBe('s3cr3t');
    expect(Object.keys(custom)).toHaveLength(9);
  });

  it('refuses unusable auth without echoing the credential', () => {
    const secret = newWebhookSecret();
    const attempt = (auth: Parameters<typeof buildDeliveryHeaders>[0]['auth']) => () => headersFor([secret], { auth });
    expect(attempt({ type: 'bearer' })).toThrow(/credential is empty/);
    expect(attempt({ type: 'bearer', token: 'abc\r\nX-Evil: 1' })).toThrow(/visible ASCII/);
    expect(attempt({ type: 'custom_header', token: 'tok', header_name: 'Host' })).toThrow(/reserved/);
    expect(attempt({ type: 'custom_header', token: 'tok' })).toThrow(/required/);
    try {
      attempt({ type: 'api_key', token: 'SUPERSECRET\n' })();
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('SUPERSECRET');
    }
    expect(validateAuthConfig({ type: 'bogus' as never, token: 'x' })).toMatch(/unknown/);
    expect(validateAuthConfig(null)).toBeNull();
    expect(validateAuthConfig({ type: 'bearer', token: 'ok token' })).toBeNull();
  });

  it('refuses event names and ids that could inject headers', () => {
    const secret = newWebhookSecret();
    expect(() => headersFor([secret], { eventName: 'a\r\nb' })).toThrow(/event name/);
    expect(() => headersFor([secret], { idempotencyKey: '' })).toThrow(/idempotency key/);
  });
});

describe('validateAuthHeaderName', () => {
  it.each(['X-Receiver-Token', 'x-api-key', 'Authorization', 'X_Custom.Token', "a!#$%&'*+-.^_`|~9"])(
    'accepts %s',
    (name) => {
      expect(validateAuthHeaderName(name)).toBeNull();
    },
  );

  it.each([
    ['', /required/],
    ['X Token', /letters, digits/],
    ['X-Token:', /letters, digits/],
    ['X-Tökén', /letters, digits/],
    ['X-Token\r\nHost', /letters, digits/],
    ['a'.repeat(257), /256/],
    ['Host', /reserved/],
    ['content-length', /reserved/],
    ['Content-Type', /reserved/],
    ['Transfer-Encoding', /reserved/],
    ['Connection', /reserved/],
    ['User-Agent', /reserved/],
    ['Idempotency-Key', /reserved/],
    ['X-Escalatr-Signature', /reserved/],
    ['x-escalatr-event', /reserved/],
    ['X-Escalatr-Signature-Previous', /reserved/],
    ['webhook-signature', /reserved/],
    ['Webhook-Id', /reserved/],
    ['webhook-timestamp', /reserved/],
    ['Proxy-Authorization', /reserved/],
  ])('rejects %j', (name, pattern) => {
    expect(validateAuthHeaderName(name)).toMatch(pattern);
  });
});
