import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';
import { call, consumerStep, endpointRow, file, get, tenant, type Tenant } from './platform-fixtures.js';

// The seed's examples, verbatim.
const SEED_LIST = {
  success: true,
  page: 1,
  limit: 25,
  total: 142,
  data: [
    {
      escalatr_id: 'ESC-VOLT-260417-00010',
      complaint_category: 'Consumer Durables',
      status: 'Escalated',
      stage: 'Escalation',
      escalation_level: 'L2',
      priority: 'high',
      amount_involved: 42000,
      currency: 'INR',
      is_overdue: false,
      created_at: '2026-04-17T09:21:00Z',
    },
  ],
};
const SEED_ENVELOPE = {
  event: 'complaint.escalated',
  timestamp: '2026-06-13T07:45:12.004Z',
  data: {
    escalatr_id: 'ESC-VOLT-260417-00010',
    status: 'Escalated',
    escalation_level: 'L2',
    to_level: 'L2',
    trigger: 'manual',
  },
};

/** Replaces every `#/components/schemas/…` reference with its target, so a plain JSON Schema validator can use it. */
function inline(node: unknown, components: Record<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((n) => inline(n, components));
  if (node && typeof node === 'object') {
    const ref = (node as { $ref?: string }).$ref;
    if (ref) return inline(components[ref.replace('#/components/schemas/', '')], components);
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, inline(v, components)]));
  }
  return node;
}

function refsOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refsOf(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsOf(v, out);
    }
  }
  return out;
}

describe('the OpenAPI document and /docs', () => {
  let t: TestApp;
  let v: Tenant;
  let doc: any;
  beforeAll(async () => {
    t = await createTestApp();
    v = await tenant(t);
    const r = await call(t, { method: 'GET', url: '/openapi.json' });
    expect(r.status).toBe(200);
    expect(String(r.headers['content-type'])).toContain('application/json');
    doc = JSON.parse(JSON.stringify(r.body));
  });
  afterAll(async () => t.close());

  it('names a number of attempts attempt_count everywhere; an attempts property is only ever an array', () => {
    const seen: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      const props = (node as { properties?: Record<string, { type?: unknown }> }).properties;
      if (props?.attempts) expect(props.attempts.type, `${path}.attempts`).toBe('array');
      if (props?.attempt_count) seen.push(path);
      for (const [key, child] of Object.entries(node)) walk(child, `${path}.${key}`);
    };
    walk(doc, '$');
    expect(seen.length).toBeGreaterThan(0);
  });

  it('is OpenAPI 3.1 with the Platform API paths and both key headers as security schemes', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('Escalatr Platform API');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/complaints',
        '/api/v1/complaints/{id}',
        '/api/v1/events',
        '/api/v1/api-keys',
        '/api/v1/api-keys/{id}',
        '/api/v1/me',
      ]),
    );
    expect(Object.keys(doc.paths['/api/v1/api-keys']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/v1/api-keys/{id}'])).toEqual(['delete']);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.apiKeyHeader).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'X-API-Key',
    });
    for (const path of ['/api/v1/complaints', '/api/v1/complaints/{id}', '/api/v1/events', '/api/v1/me']) {
      expect(doc.paths[path].get.security).toEqual(expect.arrayContaining([{ bearerAuth: [] }, { apiKeyHeader: [] }]));
    }
    // The seed's filters, and Escalatr's `assignee` (me | none), `flagged` and `cursor`.
    expect(doc.paths['/api/v1/complaints'].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
      'assignee',
      'cursor',
      'escalation_level',
      'flagged',
      'limit',
      'page',
      'stage',
      'status',
    ]);
    expect(doc.paths['/api/v1/events'].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
      'after',
      'escalatr_id',
      'event',
      'limit',
      'page',
      'status',
    ]);
    // The cursor's start form is described, with a polling loop to copy.
    const after = doc.paths['/api/v1/events'].get.parameters.find((p: { name: string }) => p.name === 'after');
    expect(new RegExp(after.schema.pattern).test('start')).toBe(true);
    expect(new RegExp(after.schema.pattern).test('evt_4f2a9c1e7b3d5a8f0e6c')).toBe(true);
    expect(new RegExp(after.schema.pattern).test('starts')).toBe(false);
    expect(`${after.description ?? ''}${after.schema.description ?? ''}`).toContain('cursor=start');
    // The docs' own routes and the dashboard are not API operations.
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/docs') || p === '/openapi.json')).toEqual([]);
    for (const ref of refsOf(doc))
      expect(doc.components.schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
  });

  it('carries the seed’s examples, and they validate against the documented schemas', () => {
    const list = doc.paths['/api/v1/complaints'].get.responses['200'].content['application/json'];
    expect(list.example).toEqual(SEED_LIST);
    const webhook = doc.webhooks.event.post.requestBody.content['application/json'];
    expect(webhook.example).toMatchObject(SEED_ENVELOPE);
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const listSchema = inline(list.schema, doc.components.schemas) as object;
    expect(ajv.validate(listSchema, SEED_LIST), JSON.stringify(ajv.errors)).toBe(true);
    expect(
      ajv.validate(inline(webhook.schema, doc.components.schemas) as object, webhook.example),
      JSON.stringify(ajv.errors),
    ).toBe(true);
    const itemFields = Object.keys((listSchema as any).properties.data.items.properties);
    expect(itemFields).toEqual(Object.keys(SEED_LIST.data[0]));
  });

  it('describes what the server really answers: live responses validate against the documented schemas', async () => {
    const id = await file(t, v);
    await endpointRow(t, v.company.id);
    await consumerStep(t, v, id, 'escalate');
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const check = async (path: string, url: string, status = '200') => {
      const r = await get(t, url, bearer(v.adminKey));
      expect(String(r.status)).toBe(status);
      const schema = inline(
        doc.paths[path].get.responses[status].content['application/json'].schema,
        doc.components.schemas,
      ) as object;
      expect(ajv.validate(schema, r.body), `${url}: ${JSON.stringify(ajv.errors)}`).toBe(true);
    };
    await check('/api/v1/complaints', '/complaints');
    await check('/api/v1/complaints/{id}', `/complaints/${id}`);
    await check('/api/v1/events', '/events');
    await check(
      '/api/v1/events',
      `/events?after=${(await get(t, '/events?limit=1&page=2', bearer(v.adminKey))).body.data[0].id}`,
    );
    await check('/api/v1/api-keys', '/api-keys');
    await check('/api/v1/me', '/me');
    await check('/api/v1/complaints', '/complaints?limit=0', '400');
    await check('/api/v1/complaints/{id}', '/complaints/ESC-VOLT-260417-99999', '404');
  });

  it('renders at /docs from the package’s own assets, with no CDN', async () => {
    const page = await call(t, { method: 'GET', url: '/docs' });
    expect(page.status).toBe(200);
    expect(String(page.headers['content-type'])).toContain('text/html');
    const html = String(page.body);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThan(2);
    for (const asset of assets) expect(asset, asset).not.toMatch(/^(https?:)?\/\//);
    const bundle = await call(t, { method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(bundle.status).toBe(200);
    expect(String(bundle.headers['content-type'])).toContain('javascript');
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'self'");
    const json = await call(t, { method: 'GET', url: '/docs/json' });
    expect(json.body).toEqual(doc);
  });
});
