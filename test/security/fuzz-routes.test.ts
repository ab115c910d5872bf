import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { BODY_LIMIT_BYTES } from '../../src/app.js';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';
import { call, session, tenant } from '../api/platform-fixtures.js';
import { changedTables, snapshot, TABLES } from './table-snapshot.js';
import { hostileNumber, hostileString, hostileValue, MALFORMED_JSON } from './hostile.js';
import { parseRouteTree, type Route } from '../helpers/routes.js';

/**
 * SPEC §9 "bad input anywhere gets a clear 4xx with a code, never a 500, and changes nothing", checked by
 * property-based fuzzing of every route the running app has (read from Fastify's own route table, so a route
 * added later is fuzzed without editing this file). Each route gets bodies built from its OpenAPI schema with
 * wrong types, missing and unknown fields, random JSON, deep nesting, malformed JSON, other content types; hostile
 * path parameters and query strings; right, wrong and missing credentials. Every answer must be below 500, every
 * 4xx must carry the error envelope with a code, and after every refused request every table is unchanged.
 *
 * Bounded for CI: FUZZ_RUNS runs per route (default 30) with a fixed seed per route (FUZZ_SEED to explore;
 * FUZZ_STATS=1 prints the answers' statuses per route, to see how deep the inputs reach).
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : null;

// The app and its cast are made at collection time, so each route becomes its own test below.
const t: TestApp = await createTestApp();
afterAll(async () => t.close());

const volt = await tenant(t, 'VOLT');
const acme = await tenant(t, 'ACME');
const owner = await session(t, volt.company.id, 'owner');

async function ok(method: string, url: string, headers: Record<string, string>, payload?: object) {
  const a = await call(t, { method: method as 'POST', url, headers, ...(payload ? { payload } : {}) });
  if (a.status >= 300) throw new Error(`${method} ${url}: ${a.status} ${JSON.stringify(a.body)}`);
  return a.body.data;
}
const endpoint = await ok('POST', '/api/v1/webhooks', bearer(volt.adminKey), {
  url: 'https://hooks.volt.example/x',
  events: ['*'],
  auth: { type: 'bearer', token: 'volt-token' },
});
const fileFor = async (who: typeof volt) =>
  (
    await ok('POST', '/api/consumer/v1/complaints', bearer(who.consumerToken), {
      company_code: who.company.code,
      complaint_category: 'Telecom',
      title: 'No signal',
      description: 'Since Monday',
    })
  ).escalatr_id as string;
const complaint = await fileFor(volt);
const foreignComplaint = await fileFor(acme);
const cc = `/api/consumer/v1/complaints/${complaint}`;
const own = {
  complaint,
  endpoint: endpoint.id as string,
  delivery: (await ok('GET', `/api/v1/webhooks/${endpoint.id}/deliveries`, bearer(volt.adminKey)))[0].id as string,
  spareKey: (await ok('POST', '/api/v1/api-keys', bearer(volt.adminKey), { name: 'spare' })).id as string,
  automation: (
    await ok('POST', '/api/v1/automations', bearer(volt.adminKey), {
      name: 'Risk',
      active: true,
      filter: { min_level: 'high' },
      destinations: [],
    })
  ).id as string,
  feedback: 'fb-volt-1',
  evidence: (
    await ok('POST', `${cc}/evidence`, bearer(volt.consumerToken), {
      file_name: 'r.txt',
      content_type: 'text/plain',
      content_base64: 'cmVjZWlwdA==',
    })
  ).evidence_id as string,
  offer: (
    await ok('POST', `/api/v1/complaints/${complaint}/settlements`, bearer(volt.adminKey), {
      amount: 5,
      currency: 'EUR',
      terms: 'refund',
    })
  ).offer_id as string,
  followup: (
    await ok('POST', `/api/v1/complaints/${complaint}/followups`, bearer(volt.adminKey), { question: 'Which store?' })
  ).followup_id as string,
  actionDraft: (
    await ok('POST', `${cc}/actions`, bearer(volt.consumerToken), { kind: 'chargeback', body: 'Dear bank' })
  ).draft_id as string,
  socialDraft: (await ok('POST', `${cc}/social`, bearer(volt.consumerToken), { platform: 'x', body: 'post' }))
    .draft_id as string,
};
await ok('POST', '/api/v1/feedback', bearer(volt.adminKey), {
  id: own.feedback,
  source: 'Zendesk',
  content: 'I will sue you',
});

const openapi = (await t.app.http.inject({ method: 'GET', url: '/openapi.json' })).json() as {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Array<{ name: string; in: string; schema?: JsonSchema }>;
        requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
      }
    >
  >;
};

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
};

// POST /feedback validates its body in the domain (one record or a batch), so it has no schema in the document.
const FEEDBACK_RECORD: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    source: { type: 'string' },
    content: { type: 'string' },
    source_url: { type: 'string' },
    created_at: { type: 'string' },
    thread_id: { type: 'string' },
    customer_id: { type: 'string' },
  },
};
const EXTRA_BODY_SCHEMAS: Record<string, JsonSchema> = {
  'POST /api/v1/feedback': {
    anyOf: [FEEDBACK_RECORD, { type: 'object', properties: { records: { type: 'array', items: FEEDBACK_RECORD } } }],
  },
};

const operationOf = (route: Route) => {
  const path = route.path.replace(/:(\w+)/g, '{$1}');
  // A prefix's own route is registered as '/' inside it: /api/session is documented as /api/session/.
  return (openapi.paths[path] ?? openapi.paths[`${path}/`])?.[route.method.toLowerCase()];
};

/** A value that fits the schema sometimes and is hostile otherwise; objects drop fields and gain unknown ones. */
function fromSchema(s: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!s || depth > 4) return hostileValue;
  if (s.anyOf) return fc.oneof(...s.anyOf.map((x) => fromSchema(x, depth + 1)), hostileValue);
  if (s.enum)
    return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...s.enum) }, { weight: 1, arbitrary: hostileValue });
  if (s.const !== undefined) return fc.oneof(fc.constant(s.const), hostileValue);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string':
      return fc.oneof(
        { weight: 2, arbitrary: fc.string({ maxLength: Math.min((s.maxLength ?? 40) + 2, 60) }) },
        { weight: 2, arbitrary: hostileString },
        { weight: 1, arbitrary: hostileValue },
      );
    case 'integer':
      return fc.oneof(
        {
          weight: 2,
          arbitrary: fc.integer({ min: (s.minimum ?? -1000) - 1, max: Math.min(s.maximum ?? 1000, 2 ** 31) + 1 }),
        },
        { weight: 1, arbitrary: hostileNumber },
        { weight: 1, arbitrary: hostileValue },
      );
    case 'number':
      return fc.oneof(
        { weight: 2, arbitrary: fc.double({ min: (s.minimum ?? -1e6) - 1, max: (s.maximum ?? 1e6) + 1, noNaN: true }) },
        { weight: 1, arbitrary: hostileValue },
      );
    case 'boolean':
      return fc.oneof({ weight: 2, arbitrary: fc.boolean() }, { weight: 1, arbitrary: hostileValue });
    case 'array':
      return fc.oneof(
        { weight: 2, arbitrary: fc.array(fromSchema(s.items, depth + 1), { maxLength: 4 }) },
        { weight: 1, arbitrary: hostileValue },
      );
    case 'object': {
      const props = Object.fromEntries(
        Object.entries(s.properties ?? {}).map(([k, v]) => [k, fromSchema(v, depth + 1)]),
      );
      const known = fc.record(props, { requiredKeys: [] });
      const extra = fc.dictionary(
        fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor', 'secret', 'company_id', 'id')),
        hostileValue,
        { maxKeys: 2 },
      );
      return fc.oneof(
        { weight: 3, arbitrary: known },
        { weight: 1, arbitrary: fc.tuple(known, extra).map(([a, b]) => ({ ...b, ...a })) },
        { weight: 1, arbitrary: hostileValue },
      );
    }
    default:
      return hostileValue;
  }
}

/** Percent-encodes every byte outside the unreserved set (encodeURIComponent throws on lone surrogates). */
const encode = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, '0').toUpperCase()}`,
    )
    .join('');

/** The caller's own object for a path parameter, so a request can get past the lookup into the body checks. */
function ownParam(path: string, name: string): string {
  if (name === 'evidence_id') return own.evidence;
  if (name === 'offer_id') return own.offer;
  if (name === 'followup_id') return own.followup;
  if (name === 'draft_id') return path.includes('/actions/') ? own.actionDraft : own.socialDraft;
  if (path.includes('/complaints')) return own.complaint;
  if (path.startsWith('/api/v1/webhooks')) return own.endpoint;
  if (path.startsWith('/api/v1/deliveries')) return own.delivery;
  if (path.startsWith('/api/v1/api-keys')) return own.spareKey;
  if (path.startsWith('/api/v1/automations')) return own.automation;
  if (path.startsWith('/api/v1/feedback')) return own.feedback;
  return 'x';
}

type Body =
  { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string; contentType: string | null };
type Credential = 'right' | 'session' | 'junk' | 'none' | 'wrong_kind';

function requestArb(route: Route) {
  const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
  const paramArb = fc.record(
    Object.fromEntries(
      params.map((name) => [
        name,
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(ownParam(route.path, name)) },
          {
            weight: 1,
            arbitrary: fc.constant(
              name === 'id' && route.path.includes('/complaints')
                ? foreignComplaint
                : ownParam(route.path, name).replace(/_[0-9a-z]+$/, '_zzzzzzzzzzzzzzzzzzzz'),
            ),
          },
          { weight: 2, arbitrary: hostileString.filter((s) => s.length > 0) },
        ),
      ]),
    ),
  );
  const op = operationOf(route);
  const queryKeys = (op?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
  const queryArb = fc.array(
    fc.tuple(
      queryKeys.length
        ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...queryKeys) }, { weight: 1, arbitrary: hostileString })
        : hostileString,
      fc.oneof(
        hostileString,
        hostileNumber.map(String),
        fc.constantFrom('1', '100', '101', '0', 'Open', 'L9', 'pending', 'complaint.created', '2026-01-01T00:00:00Z'),
      ),
    ),
    { maxLength: 4 },
  );
  const schema =
    EXTRA_BODY_SCHEMAS[`${route.method} ${route.path}`] ?? op?.requestBody?.content?.['application/json']?.schema;
  const writes = !['GET', 'HEAD'].includes(route.method);
  const bodyArb: fc.Arbitrary<Body> = writes
    ? fc.oneof(
        {
          weight: 5,
          arbitrary: fromSchema(schema ?? { type: 'object', properties: {} }).map((value): Body => ({
            kind: 'json',
            value,
          })),
        },
        { weight: 2, arbitrary: hostileValue.map((value): Body => ({ kind: 'json', value })) },
        {
          weight: 1,
          arbitrary: fc
            .constantFrom(...MALFORMED_JSON)
            .map((text): Body => ({ kind: 'raw', text, contentType: 'application/json' })),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom<Body>(
            { kind: 'raw', text: 'a=1&b=2', contentType: 'application/x-www-form-urlencoded' },
            { kind: 'raw', text: 'hello', contentType: 'text/plain' },
            {
              kind: 'raw',
              text: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
              contentType: 'multipart/form-data; boundary=x',
            },
            { kind: 'raw', text: '{"a":1}', contentType: 'application/json; charset=utf-16' },
            { kind: 'raw', text: '<a/>', contentType: 'application/xml' },
            { kind: 'raw', text: '{"a":1}', contentType: null },
          ),
        },
        { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
      )
    : fc.oneof(
        { weight: 5, arbitrary: fc.constant<Body>({ kind: 'none' }) },
        { weight: 1, arbitrary: hostileValue.map((value): Body => ({ kind: 'json', value })) },
      );
  const credentialArb = fc.oneof(
    { weight: 8, arbitrary: fc.constant<Credential>('right') },
    { weight: 2, arbitrary: fc.constant<Credential>('session') },
    { weight: 1, arbitrary: fc.constantFrom<Credential>('junk', 'none', 'wrong_kind') },
  );
  const junkArb = fc
    .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 300 })
    .map((s) => s.replace(/[^\x21-\x7e]/g, 'x'));
  return fc.record({ params: paramArb, query: queryArb, body: bodyArb, credential: credentialArb, junk: junkArb });
}

function headersFor(route: Route, credential: Credential, junk: string): Record<string, string> {
  if (credential === 'none') return {};
  if (credential === 'junk') {
    const forms: Array<Record<string, string>> = [
      { authorization: `Bearer ${junk}` },
      { authorization: junk },
      { 'x-api-key': junk },
      { cookie: `escalatr_session=${junk}` },
    ];
    return forms[junk.length % forms.length];
  }
  const consumer = route.path.startsWith('/api/consumer/');
  if (credential === 'wrong_kind') return consumer ? bearer(volt.adminKey) : bearer(volt.consumerToken);
  if (consumer) return bearer(volt.consumerToken);
  if (credential === 'session' || route.path.startsWith('/api/session')) return owner.withCsrf;
  return bearer(volt.adminKey);
}

const seedOf = (route: Route) =>
  SEED ?? createHash('sha256').update(`${route.method} ${route.path}`).digest().readInt32LE(0);

// The dashboard's catch-all (`/` and `/*` outside /api) may start a build of web/; its file mapping is covered by
// the e2e static-serving test. Under /api, `/*` is fuzzed with unknown paths. HEAD mirrors GET.
const tree = t.app.http.printRoutes({ commonPrefix: false });
const routes = parseRouteTree(tree)
  .filter((r) => r.method !== 'HEAD' && r.path !== '/')
  // Routes that delete or sign out go last, so the rest are fuzzed with their objects still there.
  .sort(
    (a, b) =>
      Number(a.method === 'DELETE' || a.path.endsWith('/logout')) -
      Number(b.method === 'DELETE' || b.path.endsWith('/logout')),
  );

let baseline = await snapshot(t.store.db);

async function send(
  route: Route,
  req: {
    params: Record<string, string>;
    query: Array<[string, string]>;
    body: Body;
    credential: Credential;
    junk: string;
  },
) {
  let path = route.path.replace(/:(\w+)/g, (_, name: string) => encode(req.params[name]));
  if (path === '/*') path = `/api/${encode(req.junk.slice(0, 40))}`;
  else if (path.endsWith('/*')) path = path.slice(0, -1) + req.junk.slice(0, 60).split('/').map(encode).join('/');
  const qs = req.query.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
  const url = qs ? `${path}?${qs}` : path;
  const headers = headersFor(route, req.credential, req.junk);
  const body = req.body;
  // Each request happens a millisecond later, so an in-place update shows in updated_at.
  t.clock.advance(1);
  const res = await t.app.http.inject({
    method: route.method as 'GET',
    url,
    headers: {
      ...headers,
      ...(body.kind === 'json'
        ? { 'content-type': 'application/json' }
        : body.kind === 'raw' && body.contentType
          ? { 'content-type': body.contentType }
          : {}),
    },
    ...(body.kind === 'json'
      ? { payload: JSON.stringify(body.value) ?? 'null' }
      : body.kind === 'raw'
        ? { payload: body.text }
        : {}),
  });
  const describeReq = () =>
    `${route.method} ${url.slice(0, 300)} [${req.credential}] body=${(body.kind === 'json' ? (JSON.stringify(body.value) ?? '') : body.kind === 'raw' ? body.text : '').slice(0, 300)}`;
  if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${describeReq()}: ${res.body.slice(0, 300)}`);
  const after = await snapshot(t.store.db);
  if (res.statusCode >= 400) {
    let parsed: { success?: unknown; error?: { code?: unknown; message?: unknown } } | null = null;
    try {
      parsed = res.json();
    } catch {
      // not JSON: reported below
    }
    if (
      parsed?.success !== false ||
      typeof parsed.error?.code !== 'string' ||
      typeof parsed.error?.message !== 'string'
    ) {
      throw new Error(`${res.statusCode} without the error envelope for ${describeReq()}: ${res.body.slice(0, 300)}`);
    }
    const changed = changedTables(baseline, after);
    if (changed.length)
      throw new Error(
        `${res.statusCode} ${String(parsed.error.code)} but the store changed (${changed.join(', ')}) for ${describeReq()}`,
      );
  }
  baseline = after;
  return res.statusCode;
}

describe('fuzzing every route with hostile input', () => {
  it('snapshots every table of the schema (a new table must be added to table-snapshot.ts)', async () => {
    // A partition's rows are its parent table's (the snapshot counts them there).
    const partitions = t.store.pgSchema
      ? (
          await sql<{
            name: string;
          }>`select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relispartition and n.nspname = ${t.store.pgSchema}`.execute(t.store.db)
        ).rows.map((r) => r.name)
      : [];
    const tables = (await t.store.db.introspection.getTables())
      .filter((tb) => !t.store.pgSchema || tb.schema === t.store.pgSchema)
      .map((tb) => tb.name)
      .filter((name) => !name.startsWith('kysely_') && !partitions.includes(name));
    expect(tables.sort()).toEqual([...TABLES].sort());
  });

  it('finds every route of the app, and the API document describes every API route', () => {
    // The listener's WebSocket upgrade is not an HTTP operation: @fastify/websocket keeps it out of the document, and
    // the README describes its messages.
    const api = routes.filter(
      (r) => r.path.startsWith('/api/') && !r.path.endsWith('*') && r.path !== '/api/v1/webhooks/listen',
    );
    expect(api.length).toBeGreaterThan(50);
    expect(api.filter((r) => !operationOf(r)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  for (const route of routes) {
    // Every valid-looking login pays for one scrypt; a few runs cover that route's input handling.
    const runs = route.path.endsWith('/login') ? Math.min(RUNS, 8) : RUNS;
    it(`${route.method} ${route.path}`, { timeout: 120_000 }, async () => {
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requestArb(route), async (req) => {
          const status = await send(route, req);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }),
        { numRuns: runs, seed: seedOf(route), endOnFailure: true },
      );
      expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
      if (process.env.FUZZ_STATS) console.log(route.method, route.path, JSON.stringify(Object.fromEntries(statuses)));
    });
  }

  it('every route that takes a body refuses one over its size limit with a 4xx and writes nothing', async () => {
    const huge = JSON.stringify({ content: 'x'.repeat(BODY_LIMIT_BYTES + 1024) });
    for (const route of routes.filter(
      (r) => ['POST', 'PATCH', 'PUT', 'DELETE'].includes(r.method) && !r.path.includes('*'),
    )) {
      const path = route.path.replace(/:(\w+)/g, (_, name: string) => ownParam(route.path, name));
      const res = await t.app.http.inject({
        method: route.method as 'POST',
        url: path,
        headers: { ...headersFor(route, 'right', ''), 'content-type': 'application/json' },
        payload: huge,
      });
      expect([route.path, res.statusCode >= 400 && res.statusCode < 500]).toEqual([route.path, true]);
      expect(res.json().error.code).toEqual(expect.any(String));
      const after = await snapshot(t.store.db);
      expect([route.path, changedTables(baseline, after)]).toEqual([route.path, []]);
    }
  });

  it('URLs Fastify refuses before routing (bad percent-encoding, over-long parameters) still get the envelope', async () => {
    const cases: Array<[string, number, string]> = [
      [`/api/v1/complaints/${'A'.repeat(500)}`, 404, 'not_found'],
      // 101 emoji decode to 202 UTF-16 units, past the 200 a parameter may hold.
      [`/api/consumer/v1/complaints/${'%F0%9F%98%80'.repeat(101)}/messages`, 404, 'not_found'],
      ['/api/v1/complaints/%E0%A4%A', 400, 'invalid_request'],
      ['/api/v1/webhooks/%zz', 400, 'invalid_request'],
    ];
    for (const [url, status, code] of cases) {
      const res = await t.app.http.inject({ method: 'GET', url, headers: bearer(volt.adminKey) });
      expect([url.slice(0, 40), res.statusCode, res.json()]).toEqual([
        url.slice(0, 40),
        status,
        { success: false, error: { code, message: expect.any(String) } },
      ]);
    }
  });

  it('no request polluted Object.prototype', () => {
    const probe = {} as Record<string, unknown>;
    expect([probe.polluted, probe.admin]).toEqual([undefined, undefined]);
  });
});
