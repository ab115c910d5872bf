import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/harness.js';
import { createEndpoint, HOOK_URL, planFor, setupWebhooks } from './endpoints-helpers.js';
import { validateWebhookUrl } from '../../src/webhooks/endpoints.js';

type Setup = Awaited<ReturnType<typeof setupWebhooks>>;

const base = { url: HOOK_URL, events: ['complaint.created'] };

// [name, body, status, code, message pattern]
const BAD_CREATES: [string, Record<string, unknown>, number, string, RegExp?][] = [
  ['ftp URL', { ...base, url: 'ftp://hooks.example.com/x' }, 400, 'invalid_url', /must start with https:\/\//],
  ['javascript URL', { ...base, url: 'javascript:alert(1)' }, 400, 'invalid_url', /must start with https:\/\//],
  ['no scheme', { ...base, url: 'hooks.example.com/x' }, 400, 'invalid_url', /must start with https:\/\//],
  ['empty URL', { ...base, url: '' }, 400, 'invalid_url', /must not be empty/],
  ['credentials in URL', { ...base, url: 'https://user:pass@hooks.example.com/x' }, 400, 'invalid_url', /credentials/],
  ['user only in URL', { ...base, url: 'https://user@hooks.example.com/x' }, 400, 'invalid_url', /credentials/],
  ['fragment', { ...base, url: 'https://hooks.example.com/x#frag' }, 400, 'invalid_url', /fragment/],
  ['spaces', { ...base, url: ' https://hooks.example.com/x' }, 400, 'invalid_url', /spaces/],
  ['not a URL', { ...base, url: 'https://' }, 400, 'invalid_url'],
  [
    'URL over 2048',
    { ...base, url: `https://hooks.example.com/${'a'.repeat(2048)}` },
    400,
    'validation_failed',
    /2048/,
  ],
  ['loopback literal', { ...base, url: 'https://127.0.0.1/x' }, 400, 'invalid_url', /loopback/],
  ['metadata literal', { ...base, url: 'https://169.254.169.254/latest' }, 400, 'invalid_url', /link-local/],
  ['private literal', { ...base, url: 'https://10.1.2.3/x' }, 400, 'invalid_url', /private/],
  ['URL not a string', { ...base, url: 42 }, 400, 'validation_failed', /url/],
  ['missing url', { events: ['*'] }, 400, 'validation_failed', /url/],
  ['missing events', { url: HOOK_URL }, 400, 'validation_failed', /events/],
  ['empty events', { ...base, events: [] }, 400, 'validation_failed', /events/],
  [
    'unknown event',
    { ...base, events: ['complaint.exploded'] },
    400,
    'validation_failed',
    /unknown event "complaint.exploded"/,
  ],
  ['events not an array', { ...base, events: 'complaint.created' }, 400, 'validation_failed', /events/],
  ['event not a string', { ...base, events: [1] }, 400, 'validation_failed', /events/],
  ['timeout too small', { ...base, timeout_ms: 999 }, 400, 'validation_failed', /timeout_ms/],
  ['timeout too large', { ...base, timeout_ms: 30001 }, 400, 'validation_failed', /timeout_ms/],
  ['timeout fractional', { ...base, timeout_ms: 1500.5 }, 400, 'validation_failed', /timeout_ms/],
  ['timeout as string', { ...base, timeout_ms: '5000' }, 400, 'validation_failed', /timeout_ms/],
  ['enabled as string', { ...base, enabled: 'true' }, 400, 'validation_failed', /enabled/],
  ['description too long', { ...base, description: 'x'.repeat(501) }, 400, 'validation_failed', /description/],
  ['unknown field', { ...base, secret: 'whsec_mine' }, 400, 'validation_failed', /secret/],
  ['unknown auth type', { ...base, auth: { type: 'basic', token: 'x' } }, 400, 'validation_failed', /auth\.type/],
  ['bearer without token', { ...base, auth: { type: 'bearer' } }, 400, 'validation_failed', /token is required/],
  [
    'api_key with empty token',
    { ...base, auth: { type: 'api_key', token: '' } },
    400,
    'validation_failed',
    /token is required/,
  ],
  [
    'token with newline',
    { ...base, auth: { type: 'bearer', token: 'abc\r\nX-Evil: 1' } },
    400,
    'validation_failed',
    /visible ASCII/,
  ],
  ['token not a string', { ...base, auth: { type: 'bearer', token: 123 } }, 400, 'validation_failed', /token/],
  [
    'custom_header without name',
    { ...base, auth: { type: 'custom_header', token: 'abc' } },
    400,
    'validation_failed',
    /header_name is required/,
  ],
  [
    'custom_header with bad name',
    { ...base, auth: { type: 'custom_header', token: 'abc', header_name: 'X Bad' } },
    400,
    'validation_failed',
    /header name/,
  ],
  [
    'custom_header reserved name',
    { ...base, auth: { type: 'custom_header', token: 'abc', header_name: 'X-Escalatr-Signature' } },
    400,
    'validation_failed',
    /reserved/,
  ],
  [
    'custom_header Host',
    { ...base, auth: { type: 'custom_header', token: 'abc', header_name: 'Host' } },
    400,
    'validation_failed',
    /reserved/,
  ],
  [
    'auth extra field',
    { ...base, auth: { type: 'bearer', token: 'abc', scheme: 'x' } },
    400,
    'validation_failed',
    /scheme/,
  ],
  ['auth not an object', { ...base, auth: 'bearer abc' }, 400, 'validation_failed', /auth/],
];

describe('webhook endpoint validation', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setupWebhooks({ allowHttpWebhooks: false, webhookAllowCidrs: [] });
  });
  afterEach(async () => s.t.close());

  it('refuses every bad create with a clear 4xx and writes nothing', async () => {
    for (const [name, body, status, code, message] of BAD_CREATES) {
      const res = await s.api.post('/webhooks', body);
      expect(res.status, name).toBe(status);
      expect(res.body.success, name).toBe(false);
      expect(res.body.error.code, name).toBe(code);
      if (message) expect(res.body.error.message, name).toMatch(message);
      // A credential that was refused is not echoed back.
      expect(res.raw, name).not.toContain('X-Evil');
    }
    expect(await s.t.store.db.selectFrom('endpoints').select('id').execute()).toHaveLength(0);
  });

  it('plain http is refused unless the operator allows it, with the dashboard message', async () => {
    const res = await s.api.post('/webhooks', { ...base, url: 'http://hooks.example.com/x' });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'invalid_url', message: 'URL must start with https://' });
    expect(() => validateWebhookUrl('http://hooks.example.com/x', { allowHttp: true })).not.toThrow();
    expect(() => validateWebhookUrl('HTTPS://hooks.example.com/x', { allowHttp: false })).not.toThrow();
    expect(() =>
      validateWebhookUrl('https://127.0.0.1:8443/x', { allowHttp: false, allowCidrs: ['127.0.0.0/8'] }),
    ).not.toThrow();
  });

  it('accepts the edges: 2048-character URL, timeout bounds, every event, duplicates collapsed, "*" wins', async () => {
    const long = `https://hooks.example.com/${'a'.repeat(2048 - 'https://hooks.example.com/'.length)}`;
    expect(long).toHaveLength(2048);
    expect((await s.api.post('/webhooks', { ...base, url: long })).status).toBe(201);
    expect((await s.api.post('/webhooks', { ...base, timeout_ms: 1000 })).body.data.timeout_ms).toBe(1000);
    expect((await s.api.post('/webhooks', { ...base, timeout_ms: 30000 })).body.data.timeout_ms).toBe(30000);
    expect(
      (await s.api.post('/webhooks', { ...base, events: ['webhook.test', 'webhook.test', 'message.new'] })).body.data
        .events,
    ).toEqual(['webhook.test', 'message.new']);
    expect((await s.api.post('/webhooks', { ...base, events: ['message.new', '*'] })).body.data.events).toEqual(['*']);
    const withAuth = await s.api.post('/webhooks', { ...base, auth: { type: 'none', token: null } });
    expect(withAuth.body.data.auth).toEqual({ type: 'none', header_name: null });
  });

  it('a huge body gets 413 and a non-JSON body 400/415, writing nothing', async () => {
    const huge = await s.api.post('/webhooks', { ...base, description: 'x'.repeat(2 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
    const broken = await s.t.app.http.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: { ...bearer(s.volt.adminKey), 'content-type': 'application/json' },
      payload: '{"url":',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().error.code).toBe('invalid_json');
    const text = await s.t.app.http.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: { ...bearer(s.volt.adminKey), 'content-type': 'text/plain' },
      payload: 'url=x',
    });
    expect([400, 415]).toContain(text.statusCode);
    expect(text.json().success).toBe(false);
    const array = await s.api.post('/webhooks', [base]);
    expect(array.status).toBe(400);
    expect(await s.t.store.db.selectFrom('endpoints').select('id').execute()).toHaveLength(0);
  });

  it('PATCH checks the same rules and changes nothing on refusal', async () => {
    const ep = await createEndpoint(s.api, { auth: { type: 'bearer', token: 'abc' } });
    const before = await s.t.store.db
      .selectFrom('endpoints')
      .selectAll()
      .where('id', '=', ep.id)
      .executeTakeFirstOrThrow();
    const bad: [Record<string, unknown>, string][] = [
      [{}, 'validation_failed'],
      [{ url: 'http://hooks.example.com' }, 'invalid_url'],
      [{ url: 'https://a:b@hooks.example.com' }, 'invalid_url'],
      [{ events: [] }, 'validation_failed'],
      [{ events: ['nope'] }, 'validation_failed'],
      [{ timeout_ms: 50 }, 'validation_failed'],
      [{ enabled: 1 }, 'validation_failed'],
      [{ auth: { type: 'custom_header' } }, 'validation_failed'],
      [{ description: 'ok', id: 'ep_x' }, 'validation_failed'],
      [{ description: 'ok', url: 'ftp://x' }, 'invalid_url'],
    ];
    for (const [body, code] of bad) {
      const res = await s.api.patch(`/webhooks/${ep.id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code, JSON.stringify(body)).toBe(code);
    }
    expect(
      await s.t.store.db.selectFrom('endpoints').selectAll().where('id', '=', ep.id).executeTakeFirstOrThrow(),
    ).toEqual(before);
  });

  it('checks the bodies and queries of the other routes', async () => {
    const ep = await createEndpoint(s.api);
    const cases: [Promise<{ status: number; body: any }>, number, string][] = [
      [s.api.post(`/webhooks/${ep.id}/secret/regenerate`, { grace_period_s: -1 }), 400, 'validation_failed'],
      [s.api.post(`/webhooks/${ep.id}/secret/regenerate`, { grace_period_s: 7 * 86400 + 1 }), 400, 'validation_failed'],
      [s.api.post(`/webhooks/${ep.id}/secret/regenerate`, { grace_period_s: '60' }), 400, 'validation_failed'],
      [s.api.post(`/webhooks/${ep.id}/test`, { message: 5 }), 400, 'validation_failed'],
      [s.api.post(`/webhooks/${ep.id}/test`, { message: 'x'.repeat(1001) }), 400, 'validation_failed'],
      [s.api.post(`/webhooks/${ep.id}/test`, { extra: true }), 400, 'validation_failed'],
      [s.api.post(`/webhooks/${ep.id}/recover`, {}), 400, 'validation_failed'],
      [s.api.post(`/webhooks/${ep.id}/recover`, { since: 'yesterday' }), 400, 'validation_failed'],
      [s.api.post(`/webhooks/${ep.id}/recover`, { since: 1700000000000 }), 400, 'validation_failed'],
      [s.api.get(`/webhooks/${ep.id}/deliveries?status=lost`), 400, 'invalid_query'],
      [s.api.get(`/webhooks/${ep.id}/deliveries?event=nope`), 400, 'invalid_query'],
      [s.api.get(`/webhooks/${ep.id}/deliveries?limit=101`), 400, 'invalid_query'],
      [s.api.get(`/webhooks/${ep.id}/deliveries?page=0`), 400, 'invalid_query'],
      [s.api.get('/deliveries?since=notatime'), 400, 'invalid_query'],
      [s.api.get('/deliveries?bogus=1'), 400, 'invalid_query'],
      [s.api.get('/deliveries/stats?bucket=minute'), 400, 'invalid_query'],
      [s.api.get('/deliveries/stats?bucket=hour&since=2000-01-01T00:00:00Z'), 400, 'invalid_query'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
    }
    expect(await s.t.store.db.selectFrom('events').select('id').execute()).toHaveLength(0);
    const row = await s.t.store.db
      .selectFrom('endpoints')
      .select(['prev_secret_enc'])
      .where('id', '=', ep.id)
      .executeTakeFirstOrThrow();
    expect(row.prev_secret_enc).toBeNull();
  });

  it('routes with optional bodies accept a request with no body at all', async () => {
    const ep = await createEndpoint(s.api);
    for (const url of [`/api/v1/webhooks/${ep.id}/secret/regenerate`, `/api/v1/webhooks/${ep.id}/test`]) {
      const res = await s.t.app.http.inject({ method: 'POST', url, headers: bearer(s.volt.adminKey) });
      expect(res.statusCode, url).toBeLessThan(300);
    }
  });
});

// Host names here are only validated and planned, never connected to.
describe('endpoint URLs are stored, shown and sent in canonical form', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setupWebhooks();
  });
  afterEach(async () => s.t.close());

  it.each([
    ['HTTPS://Hooks.Example.com/x', 'https://hooks.example.com/x'],
    ['https://hooks.example.com:443/x?b=1&a=2', 'https://hooks.example.com/x?b=1&a=2'],
    ['https://Bücher.Example.com/Path', 'https://xn--bcher-kva.example.com/Path'],
    ['https://hooks.example.com', 'https://hooks.example.com/'],
    ['https://hooks.example.com:8443/x', 'https://hooks.example.com:8443/x'],
  ])('%s is stored as %s', (typed, canonical) => {
    expect(validateWebhookUrl(typed, { allowHttp: false })).toBe(canonical);
  });

  it('plain http, when allowed, drops its default port too', () => {
    expect(validateWebhookUrl('HTTP://Hooks.Example.com:80/x', { allowHttp: true })).toBe('http://hooks.example.com/x');
  });

  it('what the create answer, the read, the list and the delivery plan show is the canonical form', async () => {
    const created = await createEndpoint(s.api, { url: 'HTTPS://Hooks.Example.com/x' });
    expect(created.url).toBe('https://hooks.example.com/x');
    expect((await s.api.get(`/webhooks/${created.id}`)).body.data.url).toBe('https://hooks.example.com/x');
    expect((await s.api.get('/webhooks')).body.data.map((e: { url: string }) => e.url)).toEqual([
      'https://hooks.example.com/x',
    ]);
    const row = await s.t.store.db.selectFrom('endpoints').select('url').executeTakeFirstOrThrow();
    expect(row.url).toBe('https://hooks.example.com/x');
    const sent = await s.api.post(`/webhooks/${created.id}/test`, {});
    const plan = await planFor(s.t, sent.body.data.id);
    expect(plan.kind === 'http' && plan.url).toBe('https://hooks.example.com/x');

    const patched = await s.api.patch(`/webhooks/${created.id}`, { url: 'https://Bücher.Example.com:443/y' });
    expect(patched.status).toBe(200);
    expect(patched.body.data.url).toBe('https://xn--bcher-kva.example.com/y');
    const again = await s.api.post(`/webhooks/${created.id}/test`, {});
    const replanned = await planFor(s.t, again.body.data.id);
    expect(replanned.kind === 'http' && replanned.url).toBe('https://xn--bcher-kva.example.com/y');
  });

  it('a URL whose canonical form passes the length limit is refused, and nothing is stored', async () => {
    // Every non-ASCII path character becomes three in percent-encoding.
    const typed = `https://hooks.example.com/${'é'.repeat(700)}`;
    expect(typed.length).toBeLessThanOrEqual(2048);
    const res = await s.api.post('/webhooks', { ...base, url: typed });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_url');
    expect(await s.t.store.db.selectFrom('endpoints').select('id').execute()).toHaveLength(0);
  });
});
