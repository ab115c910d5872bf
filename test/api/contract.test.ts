import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, OWNER_PASSWORD, seedTenant, type TestApp } from '../helpers/harness.js';
import { session } from './platform-fixtures.js';
import { issueSignInLink } from '../../src/domain/consumer-sign-in.js';

/**
 * The contract: real requests to every operation of /openapi.json, success and error answers, each checked against
 * the document — the status must be one it lists for the operation, and the body must match the schema it gives
 * for that status (objects closed: a field the document does not name fails too). The operations exercised must be
 * exactly the document's.
 */

type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, any>; requestBody?: unknown }>>;
  components: { schemas: Record<string, unknown> };
};

/** Replaces `$ref`s with their targets and closes every object that does not say otherwise. */
function strict(node: unknown, components: Record<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((n) => strict(n, components));
  if (!node || typeof node !== 'object') return node;
  const ref = (node as { $ref?: string }).$ref;
  if (ref) return strict(components[ref.replace('#/components/schemas/', '')], components);
  const out: Record<string, unknown> = Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k, k === 'examples' || k === 'example' ? v : strict(v, components)]),
  );
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

const templateOf = (path: string) => new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`);

class Contract {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly validators = new Map<string, ValidateFunction>();
  /** operation → the statuses it was seen answering. */
  readonly seen = new Map<string, Set<number>>();

  constructor(
    readonly doc: Doc,
    private readonly t: TestApp,
  ) {
    addFormats.default(this.ajv);
  }

  operations(): string[] {
    return Object.entries(this.doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
  }

  /** Sends one request for `operation`, expects `status`, and checks the answer against the document. */
  async send(operation: string, status: number, opts: InjectOptions) {
    const [method, path] = operation.split(' ');
    const op = this.doc.paths[path]?.[method.toLowerCase()];
    expect(op, `${operation} is not in the document`).toBeDefined();
    expect(String(opts.method ?? 'GET')).toBe(method);
    expect(String(opts.url).split('?')[0], operation).toMatch(templateOf(path));
    const r = await this.t.app.http.inject(opts);
    const where = `${operation} (${opts.url}) answered ${r.statusCode} ${r.body.slice(0, 300)}`;
    expect(r.statusCode, where).toBe(status);
    const documented = op!.responses[String(r.statusCode)];
    expect(documented, `${where}: status not in the document`).toBeDefined();
    const contentType = String(r.headers['content-type'] ?? '');
    const content = documented.content as Record<string, { schema: unknown }> | undefined;
    expect(content, `${where}: no documented body`).toBeDefined();
    if (contentType.startsWith('application/json')) {
      const key = `${operation} ${r.statusCode}`;
      let validate = this.validators.get(key);
      if (!validate) {
        validate = this.ajv.compile(
          strict(content!['application/json']?.schema, this.doc.components.schemas) as object,
        );
        this.validators.set(key, validate);
      }
      expect(validate(r.json()), `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
    } else {
      const mediaTypes = Object.keys(content!);
      const mediaType = contentType.split(';')[0];
      expect(
        mediaTypes.some((m) => m === '*/*' || m === mediaType),
        `${where}: ${contentType} not in ${mediaTypes}`,
      ).toBe(true);
    }
    const statuses = this.seen.get(operation) ?? new Set<number>();
    statuses.add(r.statusCode);
    this.seen.set(operation, statuses);
    return {
      status: r.statusCode,
      headers: r.headers,
      body: contentType.startsWith('application/json') ? r.json() : r.body,
    };
  }
}

const METRICS_TOKEN = 'contract-test-metrics-token';
const OPERATOR_TOKEN = 'contract-test-operator-token';

describe('the OpenAPI document is the contract: every operation, answered and checked', () => {
  let t: TestApp;
  let c: Contract;
  beforeAll(async () => {
    // A metrics token, so /metrics has its 401 to show as well as its 200.
    // And an operator token, so the operator routes are there to check.
    t = await createTestApp({ config: { metricsToken: METRICS_TOKEN, operatorToken: OPERATOR_TOKEN } });
    const r = await t.app.http.inject({ method: 'GET', url: '/openapi.json' });
    c = new Contract(r.json(), t);
  });
  afterAll(async () => t?.close());

  it('answers only documented statuses with documented bodies, on every operation', async () => {
    const v = await seedTenant(t);
    const other = await seedTenant(t, { code: 'ACME' });
    const downgraded = await seedTenant(t, { code: 'DOWN' });
    await t.store.db.updateTable('companies').set({ plan: 'free' }).where('id', '=', downgraded.company.id).execute();
    const admin = bearer(v.adminKey);
    const read = bearer(v.readKey);
    const consumer = bearer(v.consumerToken);
    const json = (headers: Record<string, string>, payload: unknown) => ({ headers, payload: payload as object });
    const send = c.send.bind(c);
    const C = '/api/consumer/v1';
    const P = '/api/v1';

    // ── Operations ───────────────────────────────────────────────────────────────────────────────────────
    await send('GET /healthz', 200, { method: 'GET', url: '/healthz' });
    await send('GET /readyz', 200, { method: 'GET', url: '/readyz' });
    await send('GET /metrics', 200, { method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) });
    await send('GET /metrics', 401, { method: 'GET', url: '/metrics' });
    const erase = (headers: Record<string, string>, email: string) => ({
      method: 'POST' as const,
      url: '/api/operator/v1/erasures',
      ...json(headers, { email }),
    });
    await send('POST /api/operator/v1/erasures', 200, erase(bearer(OPERATOR_TOKEN), 'nobody@example.test'));
    await send('POST /api/operator/v1/erasures', 400, erase(bearer(OPERATOR_TOKEN), 'not an address'));
    await send('POST /api/operator/v1/erasures', 401, erase(admin, 'nobody@example.test'));

    // ── Consumer API ─────────────────────────────────────────────────────────────────────────────────────
    const complaint = {
      company_code: 'VOLT',
      complaint_category: 'Consumer Durables',
      title: 'Broken fridge',
      description: 'It stopped cooling',
      priority: 'high',
      amount_involved: 42000,
      currency: 'INR',
    };
    const fileOne = async () =>
      (
        await send(`POST ${C}/complaints`, 201, {
          method: 'POST',
          url: `${C}/complaints`,
          ...json(consumer, complaint),
        })
      ).body.data.escalatr_id as string;
    const id = await fileOne();
    await send(`POST ${C}/complaints`, 400, {
      method: 'POST',
      url: `${C}/complaints`,
      ...json(consumer, { ...complaint, priority: 'urgent' }),
    });
    await send(`POST ${C}/complaints`, 401, { method: 'POST', url: `${C}/complaints`, payload: complaint });
    await send(`POST ${C}/complaints`, 415, {
      method: 'POST',
      url: `${C}/complaints`,
      headers: { ...consumer, 'content-type': 'application/xml' },
      payload: '<complaint/>',
    });
    await send(`POST ${C}/complaints`, 413, {
      method: 'POST',
      url: `${C}/complaints`,
      ...json(consumer, { ...complaint, description: 'x'.repeat(1024 * 1024) }),
    });
    await send(`GET ${C}/complaints`, 200, { method: 'GET', url: `${C}/complaints`, headers: consumer });
    await send(`GET ${C}/complaints`, 400, { method: 'GET', url: `${C}/complaints?limit=0`, headers: consumer });
    await send(`GET ${C}/complaints/{id}`, 200, { method: 'GET', url: `${C}/complaints/${id}`, headers: consumer });
    await send(`GET ${C}/complaints/{id}`, 404, {
      method: 'GET',
      url: `${C}/complaints/${id}`,
      headers: bearer(other.consumerToken),
    });
    await send(`GET ${C}/complaints/{id}`, 400, { method: 'GET', url: `${C}/complaints/%E0%A4%A`, headers: consumer });
    await send(`POST ${C}/complaints/{id}/escalate`, 200, {
      method: 'POST',
      url: `${C}/complaints/${id}/escalate`,
      headers: consumer,
    });
    await send(`POST ${C}/complaints/{id}/messages`, 201, {
      method: 'POST',
      url: `${C}/complaints/${id}/messages`,
      ...json(consumer, { body: 'Any news?' }),
    });
    await send(`POST ${C}/complaints/{id}/messages`, 400, {
      method: 'POST',
      url: `${C}/complaints/${id}/messages`,
      ...json(consumer, { body: '   ' }),
    });
    const evidence = await send(`POST ${C}/complaints/{id}/evidence`, 201, {
      method: 'POST',
      url: `${C}/complaints/${id}/evidence`,
      ...json(consumer, { file_name: 'receipt.txt', content_type: 'text/plain', content_base64: 'aGVsbG8=' }),
    });
    await send(`POST ${C}/complaints/{id}/evidence`, 413, {
      method: 'POST',
      url: `${C}/complaints/${id}/evidence`,
      ...json(consumer, {
        file_name: 'big.bin',
        content_type: 'application/octet-stream',
        content_base64: Buffer.alloc(5 * 1024 * 1024 + 1).toString('base64'),
      }),
    });
    const evidenceId = evidence.body.data.evidence_id;
    await send(`POST ${C}/complaints/{id}/actions`, 201, {
      method: 'POST',
      url: `${C}/complaints/${id}/actions`,
      ...json(consumer, { kind: 'ombudsman', body: 'A formal complaint' }),
    });
    await send(`POST ${C}/complaints/{id}/actions`, 400, {
      method: 'POST',
      url: `${C}/complaints/${id}/actions`,
      ...json(consumer, { body: 'No kind' }),
    });
    const draft = await send(`GET ${C}/complaints/{id}/actions`, 200, {
      method: 'GET',
      url: `${C}/complaints/${id}/actions`,
      headers: consumer,
    });
    const draftId = draft.body.data[0].draft_id;
    await send(`POST ${C}/complaints/{id}/actions/{draft_id}/file`, 200, {
      method: 'POST',
      url: `${C}/complaints/${id}/actions/${draftId}/file`,
      headers: consumer,
    });
    await send(`POST ${C}/complaints/{id}/actions/{draft_id}/file`, 404, {
      method: 'POST',
      url: `${C}/complaints/${id}/actions/drf_00000000000000000000/file`,
      headers: consumer,
    });
    const social = await send(`POST ${C}/complaints/{id}/social`, 201, {
      method: 'POST',
      url: `${C}/complaints/${id}/social`,
      ...json(consumer, { platform: 'x', body: 'Still no fridge' }),
    });
    await send(`POST ${C}/complaints/{id}/social`, 400, {
      method: 'POST',
      url: `${C}/complaints/${id}/social`,
      ...json(consumer, { platform: 'x', body: 'Hi', extra: true }),
    });
    await send(`POST ${C}/complaints/{id}/social/{draft_id}/posted`, 200, {
      method: 'POST',
      url: `${C}/complaints/${id}/social/${social.body.data.draft_id}/posted`,
      headers: consumer,
    });
    await send(`POST ${C}/complaints/{id}/social/{draft_id}/posted`, 401, {
      method: 'POST',
      url: `${C}/complaints/${id}/social/${social.body.data.draft_id}/posted`,
    });

    // Staff steps that give the consumer something to answer.
    await send(`POST ${P}/complaints/{id}/claim`, 200, {
      method: 'POST',
      url: `${P}/complaints/${id}/claim`,
      headers: admin,
    });
    await send(`POST ${P}/complaints/{id}/claim`, 409, {
      method: 'POST',
      url: `${P}/complaints/${id}/claim`,
      headers: admin,
    });
    await send(`POST ${P}/complaints/{id}/claim`, 403, {
      method: 'POST',
      url: `${P}/complaints/${id}/claim`,
      headers: read,
    });
    await send(`POST ${P}/complaints/{id}/release`, 200, {
      method: 'POST',
      url: `${P}/complaints/${id}/release`,
      headers: admin,
    });
    await send(`POST ${P}/complaints/{id}/release`, 409, {
      method: 'POST',
      url: `${P}/complaints/${id}/release`,
      headers: admin,
    });
    await send(`POST ${P}/complaints/{id}/messages`, 201, {
      method: 'POST',
      url: `${P}/complaints/${id}/messages`,
      ...json(admin, { body: 'We are on it' }),
    });
    await send(`POST ${P}/complaints/{id}/messages`, 404, {
      method: 'POST',
      url: `${P}/complaints/${id}/messages`,
      ...json(bearer(other.adminKey), { body: 'Not yours' }),
    });
    const offer = await send(`POST ${P}/complaints/{id}/settlements`, 201, {
      method: 'POST',
      url: `${P}/complaints/${id}/settlements`,
      ...json(admin, { amount: 1000, currency: 'INR', terms: 'A refund' }),
    });
    await send(`POST ${P}/complaints/{id}/settlements`, 400, {
      method: 'POST',
      url: `${P}/complaints/${id}/settlements`,
      ...json(admin, { amount: -1, currency: 'INR', terms: 'A refund' }),
    });
    const followup = await send(`POST ${P}/complaints/{id}/followups`, 201, {
      method: 'POST',
      url: `${P}/complaints/${id}/followups`,
      ...json(admin, { question: 'Which model?' }),
    });
    await send(`POST ${P}/complaints/{id}/followups`, 401, {
      method: 'POST',
      url: `${P}/complaints/${id}/followups`,
      payload: { question: 'Which model?' },
    });
    await send(`POST ${C}/complaints/{id}/followups/{followup_id}/answer`, 200, {
      method: 'POST',
      url: `${C}/complaints/${id}/followups/${followup.body.data.followup_id}/answer`,
      ...json(consumer, { answer: 'The X100' }),
    });
    await send(`POST ${C}/complaints/{id}/followups/{followup_id}/answer`, 404, {
      method: 'POST',
      url: `${C}/complaints/${id}/followups/fup_00000000000000000000/answer`,
      ...json(consumer, { answer: 'The X100' }),
    });
    await send(`POST ${C}/complaints/{id}/settlements/{offer_id}/respond`, 400, {
      method: 'POST',
      url: `${C}/complaints/${id}/settlements/${offer.body.data.offer_id}/respond`,
      ...json(consumer, { action: 'counter' }),
    });
    await send(`POST ${C}/complaints/{id}/settlements/{offer_id}/respond`, 200, {
      method: 'POST',
      url: `${C}/complaints/${id}/settlements/${offer.body.data.offer_id}/respond`,
      ...json(consumer, { action: 'reject' }),
    });

    // Every record list, on both sides, and the evidence bytes.
    for (const list of ['messages', 'evidence', 'settlements', 'followups', 'actions', 'social', 'events']) {
      await send(`GET ${C}/complaints/{id}/${list}`, 200, {
        method: 'GET',
        url: `${C}/complaints/${id}/${list}`,
        headers: consumer,
      });
      await send(`GET ${C}/complaints/{id}/${list}`, 400, {
        method: 'GET',
        url: `${C}/complaints/${id}/${list}?limit=101`,
        headers: consumer,
      });
      await send(`GET ${P}/complaints/{id}/${list}`, 200, {
        method: 'GET',
        url: `${P}/complaints/${id}/${list}`,
        headers: read,
      });
      await send(`GET ${P}/complaints/{id}/${list}`, 404, {
        method: 'GET',
        url: `${P}/complaints/${id}/${list}`,
        headers: bearer(other.readKey),
      });
    }
    for (const base of [C, P]) {
      const headers = base === C ? consumer : read;
      await send(`GET ${base}/complaints/{id}/evidence/{evidence_id}/content`, 200, {
        method: 'GET',
        url: `${base}/complaints/${id}/evidence/${evidenceId}/content`,
        headers,
      });
      await send(`GET ${base}/complaints/{id}/evidence/{evidence_id}/content`, 404, {
        method: 'GET',
        url: `${base}/complaints/${id}/evidence/evd_00000000000000000000/content`,
        headers,
      });
    }

    // The consumer's closing steps, each on a complaint of its own.
    const toDelegate = await fileOne();
    await send(`POST ${C}/complaints/{id}/delegate`, 200, {
      method: 'POST',
      url: `${C}/complaints/${toDelegate}/delegate`,
      ...json(consumer, { to_email: 'Bob@Example.test', immediate_transfer: false }),
    });
    await send(`POST ${C}/complaints/{id}/delegate`, 400, {
      method: 'POST',
      url: `${C}/complaints/${toDelegate}/delegate`,
      ...json(consumer, { to_email: 'bob@example.test' }),
    });
    const toResolve = await fileOne();
    await send(`POST ${C}/complaints/{id}/resolve`, 200, {
      method: 'POST',
      url: `${C}/complaints/${toResolve}/resolve`,
      ...json(consumer, { resolution_type: 'refund', amount_recovered: 100 }),
    });
    await send(`POST ${C}/complaints/{id}/resolve`, 409, {
      method: 'POST',
      url: `${C}/complaints/${toResolve}/resolve`,
      ...json(consumer, { resolution_type: 'refund' }),
    });
    await send(`POST ${C}/complaints/{id}/escalate`, 409, {
      method: 'POST',
      url: `${C}/complaints/${toResolve}/escalate`,
      headers: consumer,
    });
    const toWithdraw = await fileOne();
    await send(`POST ${C}/complaints/{id}/withdraw`, 200, {
      method: 'POST',
      url: `${C}/complaints/${toWithdraw}/withdraw`,
      ...json(consumer, { reason_code: 'resolved_elsewhere' }),
    });
    await send(`POST ${C}/complaints/{id}/withdraw`, 409, {
      method: 'POST',
      url: `${C}/complaints/${toWithdraw}/withdraw`,
      ...json(consumer, { reason_code: 'again' }),
    });
    const toComplete = await fileOne();
    await send(`POST ${P}/complaints/{id}/complete`, 409, {
      method: 'POST',
      url: `${P}/complaints/${toComplete}/complete`,
      ...json(admin, { resolution_notes: 'Not claimed yet' }),
    });
    await send(`POST ${P}/complaints/{id}/claim`, 200, {
      method: 'POST',
      url: `${P}/complaints/${toComplete}/claim`,
      headers: admin,
    });
    await send(`POST ${P}/complaints/{id}/complete`, 200, {
      method: 'POST',
      url: `${P}/complaints/${toComplete}/complete`,
      ...json(admin, { resolution_notes: 'Replaced the fridge' }),
    });
    await send(`POST ${P}/complaints/{id}/complete`, 409, {
      method: 'POST',
      url: `${P}/complaints/${toComplete}/complete`,
      ...json(admin, { resolution_notes: 'Again' }),
    });

    // ── Platform API reads ───────────────────────────────────────────────────────────────────────────────
    await send(`GET ${P}/complaints`, 200, { method: 'GET', url: `${P}/complaints?status=Escalated`, headers: read });
    await send(`GET ${P}/complaints`, 400, { method: 'GET', url: `${P}/complaints?status=Lost`, headers: read });
    await send(`GET ${P}/complaints`, 401, { method: 'GET', url: `${P}/complaints` });
    await send(`GET ${P}/complaints`, 403, {
      method: 'GET',
      url: `${P}/complaints`,
      headers: bearer(downgraded.readKey),
    });
    await send(`GET ${P}/complaints/{id}`, 200, { method: 'GET', url: `${P}/complaints/${id}`, headers: read });
    await send(`GET ${P}/complaints/{id}`, 404, { method: 'GET', url: `${P}/complaints/ESC-X`, headers: read });
    const feed = await send(`GET ${P}/events`, 200, { method: 'GET', url: `${P}/events`, headers: read });
    await send(`GET ${P}/events`, 200, {
      method: 'GET',
      url: `${P}/events?after=${feed.body.data.at(-1).id}`,
      headers: read,
    });
    await send(`GET ${P}/events`, 400, {
      method: 'GET',
      url: `${P}/events?after=${feed.body.data.at(-1).id}&page=2`,
      headers: read,
    });
    // A cursor before the feed's start (as if retention had removed the events after it) has expired.
    await t.store.db
      .updateTable('companies')
      .set({ feed_start_seq: 1_000_000 })
      .where('id', '=', v.company.id)
      .execute();
    await send(`GET ${P}/events`, 410, {
      method: 'GET',
      url: `${P}/events?after=${feed.body.data.at(-1).id}`,
      headers: read,
    });
    await t.store.db.updateTable('companies').set({ feed_start_seq: 0 }).where('id', '=', v.company.id).execute();
    await send(`GET ${P}/settings/retention`, 200, { method: 'GET', url: `${P}/settings/retention`, headers: read });
    await send(`GET ${P}/settings/retention`, 401, {
      method: 'GET',
      url: `${P}/settings/retention`,
      headers: bearer('esc_nope'),
    });
    await send(`PUT ${P}/settings/retention`, 200, {
      method: 'PUT',
      url: `${P}/settings/retention`,
      ...json(admin, { days: 30 }),
    });
    await send(`PUT ${P}/settings/retention`, 400, {
      method: 'PUT',
      url: `${P}/settings/retention`,
      ...json(admin, { days: 0 }),
    });
    await send(`PUT ${P}/settings/retention`, 403, {
      method: 'PUT',
      url: `${P}/settings/retention`,
      ...json(admin, { days: 365 }),
    });
    await send(`PUT ${P}/settings/retention`, 403, {
      method: 'PUT',
      url: `${P}/settings/retention`,
      ...json(read, { days: 30 }),
    });
    await send(`GET ${P}/settings/sla`, 200, { method: 'GET', url: `${P}/settings/sla`, headers: read });
    await send(`GET ${P}/settings/sla`, 401, { method: 'GET', url: `${P}/settings/sla`, headers: bearer('esc_nope') });
    await send(`PUT ${P}/settings/sla`, 200, {
      method: 'PUT',
      url: `${P}/settings/sla`,
      ...json(admin, { windows: { L1: 3600 }, action_wait_s: null }),
    });
    await send(`PUT ${P}/settings/sla`, 400, {
      method: 'PUT',
      url: `${P}/settings/sla`,
      ...json(admin, { windows: { L1: 1 } }),
    });
    await send(`PUT ${P}/settings/sla`, 403, {
      method: 'PUT',
      url: `${P}/settings/sla`,
      ...json(read, { windows: {} }),
    });

    await send(`GET ${P}/settings/calendar`, 200, { method: 'GET', url: `${P}/settings/calendar`, headers: read });
    await send(`GET ${P}/settings/calendar`, 401, { method: 'GET', url: `${P}/settings/calendar` });
    const calendar = {
      time_zone: 'Europe/Berlin',
      business_hours: { monday: [{ start: '09:00', end: '17:00' }] },
      holidays: ['2026-12-25'],
    };
    await send(`PUT ${P}/settings/calendar`, 200, {
      method: 'PUT',
      url: `${P}/settings/calendar`,
      ...json(admin, { ...calendar, warning_fractions: [0.5, 0.75] }),
    });
    await send(`PUT ${P}/settings/calendar`, 400, {
      method: 'PUT',
      url: `${P}/settings/calendar`,
      ...json(admin, { ...calendar, time_zone: 'Mars/Base' }),
    });
    await send(`PUT ${P}/settings/calendar`, 403, {
      method: 'PUT',
      url: `${P}/settings/calendar`,
      ...json(read, calendar),
    });

    // ── Breach rule and reports ────────────────────────────────────────────────────────────────────────────
    await send(`GET ${P}/settings/breach-rule`, 200, {
      method: 'GET',
      url: `${P}/settings/breach-rule`,
      headers: read,
    });
    await send(`GET ${P}/settings/breach-rule`, 401, { method: 'GET', url: `${P}/settings/breach-rule` });
    const worker = await session(t, v.company.id, 'agent');
    const viewer = await session(t, v.company.id, 'viewer');
    for (const [status, body, who] of [
      [200, { reassign: 'user', assignee: worker.email, flag: true }, admin],
      [400, { reassign: 'none', assignee: worker.email, flag: true }, admin],
      [404, { reassign: 'user', assignee: 'nobody@example.test', flag: true }, admin],
      [409, { reassign: 'user', assignee: viewer.email, flag: true }, admin],
      [403, { reassign: 'none', assignee: null, flag: false }, read],
    ] as const)
      await send(`PUT ${P}/settings/breach-rule`, status, {
        method: 'PUT',
        url: `${P}/settings/breach-rule`,
        ...json(who, body),
      });
    await send(`PUT ${P}/settings/breach-rule`, 401, {
      method: 'PUT',
      url: `${P}/settings/breach-rule`,
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    for (const path of ['/reports/sla', '/reports/sla.csv']) {
      await send(`GET ${P}${path}`, 200, {
        method: 'GET',
        url: `${P}${path}?from=2026-01-01&to=2026-01-31`,
        headers: read,
      });
      await send(`GET ${P}${path}`, 400, {
        method: 'GET',
        url: `${P}${path}?from=2026-01-31&to=2026-01-01`,
        headers: read,
      });
      await send(`GET ${P}${path}`, 401, { method: 'GET', url: `${P}${path}?from=2026-01-01&to=2026-01-31` });
    }
    const ops = `${P}/settings/operations`;
    await send(`GET ${P}/settings/operations`, 200, { method: 'GET', url: ops, headers: admin });
    await send(`GET ${P}/settings/operations`, 403, { method: 'GET', url: ops, headers: read });
    await send(`PUT ${P}/settings/operations`, 200, { method: 'PUT', url: ops, ...json(admin, { email: true }) });
    await send(`PUT ${P}/settings/operations`, 400, {
      method: 'PUT',
      url: ops,
      ...json(admin, { slack_url: 'ftp://hooks.example.com/x' }),
    });
    await send(`PUT ${P}/settings/operations`, 403, { method: 'PUT', url: ops, ...json(read, { email: false }) });

    // ── Assignment ─────────────────────────────────────────────────────────────────────────────────────────
    const assignee = await session(t, v.company.id, 'agent');
    await send(`POST ${P}/complaints/{id}/assign`, 200, {
      method: 'POST',
      url: `${P}/complaints/${id}/assign`,
      ...json(admin, { assignee: assignee.email }),
    });
    await send(`POST ${P}/complaints/{id}/assign`, 409, {
      method: 'POST',
      url: `${P}/complaints/${id}/assign`,
      ...json(admin, { assignee: assignee.email }),
    });
    await send(`POST ${P}/complaints/{id}/assign`, 404, {
      method: 'POST',
      url: `${P}/complaints/${id}/assign`,
      ...json(admin, { assignee: 'nobody@example.test' }),
    });
    await send(`POST ${P}/complaints/{id}/assign`, 403, {
      method: 'POST',
      url: `${P}/complaints/${id}/assign`,
      ...json(read, { assignee: assignee.email }),
    });
    await send(`GET ${P}/complaints`, 200, {
      method: 'GET',
      url: `${P}/complaints?assignee=me`,
      headers: assignee.cookie,
    });

    // ── Internal notes ─────────────────────────────────────────────────────────────────────────────────────
    await send(`POST ${P}/complaints/{id}/notes`, 201, {
      method: 'POST',
      url: `${P}/complaints/${id}/notes`,
      ...json(admin, { body: 'Internal: call back tomorrow' }),
    });
    await send(`POST ${P}/complaints/{id}/notes`, 400, {
      method: 'POST',
      url: `${P}/complaints/${id}/notes`,
      ...json(admin, { body: '' }),
    });
    await send(`POST ${P}/complaints/{id}/notes`, 404, {
      method: 'POST',
      url: `${P}/complaints/${id}/notes`,
      ...json(bearer(other.adminKey), { body: 'Not yours' }),
    });
    await send(`GET ${P}/complaints/{id}/notes`, 200, {
      method: 'GET',
      url: `${P}/complaints/${id}/notes`,
      headers: read,
    });
    await send(`GET ${P}/complaints/{id}/notes`, 404, {
      method: 'GET',
      url: `${P}/complaints/${id}/notes`,
      headers: bearer(other.readKey),
    });

    // ── Account: keys, /me, the dashboard session ───────────────────────────────────────────────────────────
    await send(`GET ${P}/api-keys`, 200, { method: 'GET', url: `${P}/api-keys`, headers: admin });
    await send(`GET ${P}/api-keys`, 403, { method: 'GET', url: `${P}/api-keys`, headers: read });
    const key = await send(`POST ${P}/api-keys`, 201, {
      method: 'POST',
      url: `${P}/api-keys`,
      ...json(admin, { name: 'ci', scope: 'read' }),
    });
    await send(`POST ${P}/api-keys`, 400, { method: 'POST', url: `${P}/api-keys`, ...json(admin, { name: '' }) });
    await send(`DELETE ${P}/api-keys/{id}`, 200, {
      method: 'DELETE',
      url: `${P}/api-keys/${key.body.data.id}`,
      headers: admin,
    });
    await send(`DELETE ${P}/api-keys/{id}`, 404, {
      method: 'DELETE',
      url: `${P}/api-keys/${key.body.data.id}`,
      headers: bearer(other.adminKey),
    });
    await send(`GET ${P}/me`, 200, { method: 'GET', url: `${P}/me`, headers: read });
    await send(`GET ${P}/me`, 401, { method: 'GET', url: `${P}/me` });
    const staff = await session(t, v.company.id, 'viewer');
    await send(`GET ${P}/me`, 200, { method: 'GET', url: `${P}/me`, headers: staff.cookie });
    await send(`PUT ${P}/settings/sla`, 403, {
      method: 'PUT',
      url: `${P}/settings/sla`,
      ...json(staff.cookie, { windows: {} }),
    });

    const login = await send('POST /api/session/login', 200, {
      method: 'POST',
      url: '/api/session/login',
      payload: { email: v.owner.email, password: OWNER_PASSWORD },
    });
    await send('POST /api/session/login', 401, {
      method: 'POST',
      url: '/api/session/login',
      payload: { email: v.owner.email, password: 'wrong' },
    });
    await send('POST /api/session/login', 400, { method: 'POST', url: '/api/session/login', payload: { email: 'x' } });
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    await send('GET /api/session/', 200, { method: 'GET', url: '/api/session/', headers: { cookie } });
    await send('GET /api/session/', 401, { method: 'GET', url: '/api/session/' });
    await send('POST /api/session/logout', 403, { method: 'POST', url: '/api/session/logout', headers: { cookie } });
    await send('POST /api/session/logout', 200, {
      method: 'POST',
      url: '/api/session/logout',
      headers: { cookie, 'x-csrf-token': login.body.data.csrf_token },
    });

    // ── Consumer portal session ──────────────────────────────────────────────────────────────────────────
    const CS = '/api/consumer/session';
    await send(`POST ${CS}/link`, 202, { method: 'POST', url: `${CS}/link`, payload: { email: v.consumer.email } });
    await send(`POST ${CS}/link`, 400, { method: 'POST', url: `${CS}/link`, payload: { email: 'not an address' } });
    // The mailed token, as the mail would carry it (this app neither mails nor logs).
    const link = await issueSignInLink(t.app.ctx, { email: v.consumer.email, clientAddress: '127.0.0.1' });
    const portal = await send(`POST ${CS}/redeem`, 200, {
      method: 'POST',
      url: `${CS}/redeem`,
      payload: { token: link.token },
    });
    await send(`POST ${CS}/redeem`, 410, { method: 'POST', url: `${CS}/redeem`, payload: { token: link.token } });
    await send(`POST ${CS}/redeem`, 400, { method: 'POST', url: `${CS}/redeem`, payload: {} });
    const portalCookie = String(portal.headers['set-cookie']).split(';')[0];
    await send(`GET ${CS}/`, 200, { method: 'GET', url: `${CS}/`, headers: { cookie: portalCookie } });
    await send(`GET ${CS}/`, 401, { method: 'GET', url: `${CS}/` });
    await send(`POST ${C}/complaints/{id}/messages`, 403, {
      method: 'POST',
      url: `${C}/complaints/${id}/messages`,
      ...json({ cookie: portalCookie }, { body: 'Without the CSRF token' }),
    });
    await send(`POST ${CS}/logout`, 403, { method: 'POST', url: `${CS}/logout`, headers: { cookie: portalCookie } });
    await send(`POST ${CS}/logout`, 200, {
      method: 'POST',
      url: `${CS}/logout`,
      headers: { cookie: portalCookie, 'x-csrf-token': portal.body.data.csrf_token },
    });

    // ── Webhooks and deliveries ──────────────────────────────────────────────────────────────────────────
    const endpointBody = { url: 'https://hooks.example.com/escalatr', events: ['*'] };
    await send(`GET ${P}/webhooks`, 200, { method: 'GET', url: `${P}/webhooks`, headers: admin });
    await send(`GET ${P}/webhooks`, 400, { method: 'GET', url: `${P}/webhooks?page=0`, headers: admin });
    const ep = await send(`POST ${P}/webhooks`, 201, {
      method: 'POST',
      url: `${P}/webhooks`,
      ...json(admin, endpointBody),
    });
    await send(`POST ${P}/webhooks`, 400, {
      method: 'POST',
      url: `${P}/webhooks`,
      ...json(admin, { ...endpointBody, url: `https://hooks.example.com/${'a'.repeat(2048)}` }),
    });
    await send(`POST ${P}/webhooks`, 400, {
      method: 'POST',
      url: `${P}/webhooks`,
      ...json(admin, { ...endpointBody, url: 'ftp://hooks.example.com/x' }),
    });
    await send(`POST ${P}/webhooks`, 403, { method: 'POST', url: `${P}/webhooks`, ...json(read, endpointBody) });
    const epId = ep.body.data.id;
    const epUrl = `${P}/webhooks/${epId}`;
    await send(`GET ${P}/webhooks/{id}`, 200, { method: 'GET', url: epUrl, headers: admin });
    await send(`GET ${P}/webhooks/{id}`, 404, { method: 'GET', url: epUrl, headers: bearer(other.adminKey) });
    await send(`PATCH ${P}/webhooks/{id}`, 200, {
      method: 'PATCH',
      url: epUrl,
      ...json(admin, { description: 'CRM', timeout_ms: 5000 }),
    });
    await send(`PATCH ${P}/webhooks/{id}`, 400, { method: 'PATCH', url: epUrl, ...json(admin, {}) });
    await send(`GET ${P}/webhooks/{id}/concurrency`, 200, {
      method: 'GET',
      url: `${epUrl}/concurrency`,
      headers: admin,
    });
    await send(`GET ${P}/webhooks/{id}/concurrency`, 404, {
      method: 'GET',
      url: `${epUrl}/concurrency`,
      headers: bearer(other.adminKey),
    });
    await send(`PATCH ${P}/webhooks/{id}`, 200, {
      method: 'PATCH',
      url: epUrl,
      ...json(admin, { filter: { priority: { $in: ['high'] } }, transform: { jsonata: '{"id": data.escalatr_id}' } }),
    });
    await send(`PATCH ${P}/webhooks/{id}`, 400, {
      method: 'PATCH',
      url: epUrl,
      ...json(admin, { transform: { jsonata: '(' } }),
    });
    await send(`PATCH ${P}/webhooks/{id}`, 200, {
      method: 'PATCH',
      url: epUrl,
      ...json(admin, { filter: null, transform: null }),
    });
    const preview = `${P}/webhooks/preview-transform`;
    await send(`POST ${preview}`, 200, {
      method: 'POST',
      url: preview,
      ...json(admin, { transform: { preset: 'qlar' } }),
    });
    await send(`POST ${preview}`, 400, {
      method: 'POST',
      url: preview,
      ...json(admin, { transform: { jsonata: '(' } }),
    });
    await send(`POST ${preview}`, 404, {
      method: 'POST',
      url: preview,
      ...json(admin, { transform: { preset: 'qlar' }, event_id: 'evt_00000000000000000000' }),
    });
    await send(`POST ${preview}`, 422, {
      method: 'POST',
      url: preview,
      ...json(admin, { transform: { jsonata: '$error("no")' } }),
    });
    await send(`GET ${P}/webhooks/{id}/secret`, 200, { method: 'GET', url: `${epUrl}/secret`, headers: admin });
    await send(`GET ${P}/webhooks/{id}/secret`, 404, {
      method: 'GET',
      url: `${P}/webhooks/ep_00000000000000000000/secret`,
      headers: admin,
    });
    await send(`POST ${P}/webhooks/{id}/secret/regenerate`, 200, {
      method: 'POST',
      url: `${epUrl}/secret/regenerate`,
      headers: admin,
    });
    await send(`POST ${P}/webhooks/{id}/secret/regenerate`, 400, {
      method: 'POST',
      url: `${epUrl}/secret/regenerate`,
      ...json(admin, { grace_period_s: -1 }),
    });
    const test = await send(`POST ${P}/webhooks/{id}/test`, 201, {
      method: 'POST',
      url: `${epUrl}/test`,
      ...json(admin, { message: 'Hello' }),
    });
    await send(`POST ${P}/webhooks/{id}/test`, 201, { method: 'POST', url: `${epUrl}/test`, headers: admin });
    await send(`GET ${P}/webhooks/{id}/deliveries`, 200, { method: 'GET', url: `${epUrl}/deliveries`, headers: admin });
    await send(`GET ${P}/webhooks/{id}/deliveries`, 400, {
      method: 'GET',
      url: `${epUrl}/deliveries?status=lost`,
      headers: admin,
    });
    await send(`POST ${P}/webhooks/{id}/recover`, 200, {
      method: 'POST',
      url: `${epUrl}/recover`,
      ...json(admin, { since: '2020-01-01T00:00:00Z' }),
    });
    await send(`POST ${P}/webhooks/{id}/recover`, 400, { method: 'POST', url: `${epUrl}/recover`, ...json(admin, {}) });
    await send(`PATCH ${P}/webhooks/{id}`, 200, { method: 'PATCH', url: epUrl, ...json(admin, { enabled: false }) });
    await send(`POST ${P}/webhooks/{id}/test`, 409, { method: 'POST', url: `${epUrl}/test`, headers: admin });
    await send(`POST ${P}/webhooks/{id}/recover`, 409, {
      method: 'POST',
      url: `${epUrl}/recover`,
      ...json(admin, { since: '2020-01-01T00:00:00Z' }),
    });
    await send(`PATCH ${P}/webhooks/{id}`, 200, { method: 'PATCH', url: epUrl, ...json(admin, { enabled: true }) });
    const bulk = `${P}/deliveries/recover`;
    await send(`POST ${P}/deliveries/recover`, 200, { method: 'POST', url: bulk, ...json(admin, { dry_run: true }) });
    await send(`POST ${P}/deliveries/recover`, 400, {
      method: 'POST',
      url: bulk,
      ...json(admin, { statuses: ['success'] }),
    });
    await send(`POST ${P}/deliveries/recover`, 404, {
      method: 'POST',
      url: bulk,
      ...json(admin, { endpoint_ids: ['ep_00000000000000000000'], dry_run: true }),
    });
    const job = await send(`POST ${P}/deliveries/recover`, 202, {
      method: 'POST',
      url: bulk,
      ...json(admin, { endpoint_ids: [epId], since: '2099-01-01T00:00:00Z' }),
    });
    await send(`GET ${P}/deliveries/recover/{id}`, 200, {
      method: 'GET',
      url: `${bulk}/${job.body.data.id}`,
      headers: admin,
    });
    await send(`GET ${P}/deliveries/recover/{id}`, 404, {
      method: 'GET',
      url: `${bulk}/rcv_00000000000000000000`,
      headers: admin,
    });
    const deliveryId = test.body.data.id;
    await send(`GET ${P}/deliveries`, 200, {
      method: 'GET',
      url: `${P}/deliveries?endpoint_id=${epId}`,
      headers: admin,
    });
    await send(`GET ${P}/deliveries`, 400, { method: 'GET', url: `${P}/deliveries?since=yesterday`, headers: admin });
    await send(`GET ${P}/deliveries/stats`, 200, { method: 'GET', url: `${P}/deliveries/stats`, headers: admin });
    await send(`GET ${P}/deliveries/stats`, 400, {
      method: 'GET',
      url: `${P}/deliveries/stats?bucket=week`,
      headers: admin,
    });
    await send(`GET ${P}/deliveries/{id}`, 200, {
      method: 'GET',
      url: `${P}/deliveries/${deliveryId}`,
      headers: admin,
    });
    await send(`GET ${P}/deliveries/{id}`, 404, {
      method: 'GET',
      url: `${P}/deliveries/${deliveryId}`,
      headers: bearer(other.adminKey),
    });
    await send(`POST ${P}/deliveries/{id}/resend`, 409, {
      method: 'POST',
      url: `${P}/deliveries/${deliveryId}/resend`,
      headers: admin,
    });
    await t.store.db.updateTable('deliveries').set({ status: 'dead' }).where('id', '=', deliveryId).execute();
    await send(`POST ${P}/deliveries/{id}/resend`, 200, {
      method: 'POST',
      url: `${P}/deliveries/${deliveryId}/resend`,
      headers: admin,
    });
    await send(`DELETE ${P}/webhooks/{id}`, 200, { method: 'DELETE', url: epUrl, headers: admin });
    await send(`DELETE ${P}/webhooks/{id}`, 404, { method: 'DELETE', url: epUrl, headers: admin });

    // ── Escalation Shield ────────────────────────────────────────────────────────────────────────────────
    const record = { id: 'zd-1', source: 'Zendesk', content: 'This is the third time I ask. Cancel it now!' };
    await send(`POST ${P}/feedback`, 202, { method: 'POST', url: `${P}/feedback`, ...json(admin, record) });
    await send(`POST ${P}/feedback`, 202, {
      method: 'POST',
      url: `${P}/feedback`,
      ...json(admin, { records: [record, { id: 'zd-2', source: 'Zendesk' }] }),
    });
    await send(`POST ${P}/feedback`, 400, { method: 'POST', url: `${P}/feedback`, ...json(admin, [1, 2]) });
    await send(`POST ${P}/feedback`, 403, { method: 'POST', url: `${P}/feedback`, ...json(read, record) });
    await send(`GET ${P}/feedback`, 200, { method: 'GET', url: `${P}/feedback?min_level=low`, headers: read });
    await send(`GET ${P}/feedback`, 400, { method: 'GET', url: `${P}/feedback?min_level=huge`, headers: read });
    await send(`GET ${P}/feedback/{id}`, 200, { method: 'GET', url: `${P}/feedback/zd-1`, headers: read });
    await send(`GET ${P}/feedback/{id}`, 404, { method: 'GET', url: `${P}/feedback/zd-9`, headers: read });
    const nul = await send(`GET ${P}/feedback`, 400, {
      method: 'GET',
      url: `${P}/feedback?source=a%00b`,
      headers: read,
    });
    expect(nul.body.error.code).toBe('invalid_text');
    await send(`GET ${P}/feedback/{id}/thread`, 200, {
      method: 'GET',
      url: `${P}/feedback/zd-1/thread`,
      headers: read,
    });
    await send(`GET ${P}/feedback/{id}/thread`, 404, {
      method: 'GET',
      url: `${P}/feedback/zd-1/thread`,
      headers: bearer(other.readKey),
    });
    await send(`GET ${P}/feedback/{id}/alerts`, 200, {
      method: 'GET',
      url: `${P}/feedback/zd-1/alerts`,
      headers: read,
    });
    await send(`GET ${P}/feedback/{id}/alerts`, 400, {
      method: 'GET',
      url: `${P}/feedback/zd-1/alerts?limit=0`,
      headers: read,
    });
    const automation = {
      name: 'Angry customers',
      filter: { min_level: 'high', keywords: ['cancel'] },
      destinations: [
        { type: 'webhook', url: 'https://hooks.example.com/shield', auth: { type: 'bearer', token: 'secret-token' } },
        { type: 'slack', url: 'https://hooks.slack.com/services/T000/B000/XXXXXXXX' },
        { type: 'email', to: ['support@volt.test'] },
      ],
    };
    const made = await send(`POST ${P}/automations`, 201, {
      method: 'POST',
      url: `${P}/automations`,
      ...json(admin, automation),
    });
    await send(`POST ${P}/automations`, 400, {
      method: 'POST',
      url: `${P}/automations`,
      ...json(admin, { ...automation, filter: { min_level: 'furious' } }),
    });
    const autoUrl = `${P}/automations/${made.body.data.id}`;
    await send(`GET ${P}/automations`, 200, { method: 'GET', url: `${P}/automations`, headers: read });
    await send(`GET ${P}/automations`, 400, { method: 'GET', url: `${P}/automations?limit=x`, headers: read });
    await send(`GET ${P}/automations/{id}`, 200, { method: 'GET', url: autoUrl, headers: read });
    await send(`GET ${P}/automations/sensitivities`, 200, {
      method: 'GET',
      url: `${P}/automations/sensitivities`,
      headers: read,
    });
    await send(`GET ${P}/automations/sensitivities`, 401, { method: 'GET', url: `${P}/automations/sensitivities` });
    await send(`GET ${P}/automations/{id}`, 404, { method: 'GET', url: autoUrl, headers: bearer(other.readKey) });
    const destSecret = `${autoUrl}/destinations/${made.body.data.destinations[0].id}/secret`;
    await send(`GET ${P}/automations/{id}/destinations/{destination_id}/secret`, 200, {
      method: 'GET',
      url: destSecret,
      headers: admin,
    });
    await send(`GET ${P}/automations/{id}/destinations/{destination_id}/secret`, 404, {
      method: 'GET',
      url: `${autoUrl}/destinations/${made.body.data.destinations[1].id}/secret`,
      headers: admin,
    });
    await send(`POST ${P}/automations/{id}/destinations/{destination_id}/secret/regenerate`, 200, {
      method: 'POST',
      url: `${destSecret}/regenerate`,
      ...json(admin, { grace_period_s: 60 }),
    });
    await send(`POST ${P}/automations/{id}/destinations/{destination_id}/secret/regenerate`, 400, {
      method: 'POST',
      url: `${destSecret}/regenerate`,
      ...json(admin, { grace_period_s: -1 }),
    });
    await send(`PATCH ${P}/automations/{id}`, 200, {
      method: 'PATCH',
      url: autoUrl,
      ...json(admin, { active: false }),
    });
    await send(`PATCH ${P}/automations/{id}`, 400, { method: 'PATCH', url: autoUrl, ...json(admin, {}) });
    const hook = made.body.data.destinations.find((d: { type: string }) => d.type === 'webhook');
    const moved = await send(`PATCH ${P}/automations/{id}`, 400, {
      method: 'PATCH',
      url: autoUrl,
      ...json(admin, {
        destinations: [{ id: hook.id, type: 'webhook', url: 'https://elsewhere.example.com/shield' }],
      }),
    });
    expect(moved.body.error.code).toBe('credentials_required');
    await send(`DELETE ${P}/automations/{id}`, 200, { method: 'DELETE', url: autoUrl, headers: admin });
    await send(`DELETE ${P}/automations/{id}`, 404, { method: 'DELETE', url: autoUrl, headers: admin });

    // ── Coverage: exactly the document's operations ──────────────────────────────────────────────────────
    expect([...c.seen.keys()].sort()).toEqual(c.operations().sort());
    const untested = [...c.seen].flatMap(([operation, statuses]) => {
      const [method, path] = operation.split(' ');
      const documented = Object.keys(c.doc.paths[path][method.toLowerCase()].responses).map(Number);
      const missing: string[] = [];
      if (![...statuses].some((s) => s < 300)) missing.push(`${operation}: no success answer`);
      if (documented.some((s) => s >= 400 && s < 500) && ![...statuses].some((s) => s >= 400))
        missing.push(`${operation}: no error answer`);
      return missing;
    });
    expect(untested).toEqual([]);
  }, 120_000);

  it('answers the limits as documented: per-company 409 and 429 codes, and the anonymous 429', async () => {
    const limited = await createTestApp({
      config: {
        anonRateLimitPerMin: 1,
        companyLimits: {
          feedbackPerMin: 1,
          resendsPerMin: 1,
          endpoints: 1,
          automations: 1,
          recoverDeliveries: 1,
          apiKeys: 50,
          requestsPerMin: 0,
          servingMsPerMin: 0,
          bodiesReceiving: 0,
          connections: 0,
        },
      },
    });
    try {
      const doc = (await limited.app.http.inject({ method: 'GET', url: '/openapi.json' })).json();
      const lc = new Contract(doc, limited);
      const v = await seedTenant(limited);
      const admin = { ...bearer(v.adminKey), 'content-type': 'application/json' };
      const P = '/api/v1';
      const code = async (operation: string, status: number, opts: InjectOptions) =>
        (await lc.send(operation, status, opts)).body.error.code;

      const endpoint = { url: 'https://hooks.example.com/escalatr', events: ['*'] };
      const ep = await lc.send(`POST ${P}/webhooks`, 201, {
        method: 'POST',
        url: `${P}/webhooks`,
        headers: admin,
        payload: endpoint,
      });
      expect(
        await code(`POST ${P}/webhooks`, 409, {
          method: 'POST',
          url: `${P}/webhooks`,
          headers: admin,
          payload: endpoint,
        }),
      ).toBe('endpoint_limit_reached');

      const automation = { name: 'Threats', filter: { min_level: 'high' } };
      const auto = { method: 'POST' as const, url: `${P}/automations`, headers: admin, payload: automation };
      await lc.send(`POST ${P}/automations`, 201, auto);
      expect(await code(`POST ${P}/automations`, 409, auto)).toBe('automation_limit_reached');

      const records = [1, 2].map((n) => ({ id: `zd-${n}`, source: 'ZendeskSupport', content: 'The app is slow.' }));
      const feedback = { method: 'POST' as const, url: `${P}/feedback`, headers: admin, payload: { records } };
      expect(await code(`POST ${P}/feedback`, 429, feedback)).toBe('feedback_rate_limited');

      const recover = {
        method: 'POST' as const,
        url: `${P}/webhooks/${ep.body.data.id}/recover`,
        headers: admin,
        payload: { since: '2026-01-01T00:00:00Z' },
      };
      await lc.send(`POST ${P}/webhooks/{id}/recover`, 200, recover);
      expect(await code(`POST ${P}/webhooks/{id}/recover`, 429, recover)).toBe('resend_rate_limited');

      // Without credentials the address's budget (1 a minute here) is spent before anything else is looked at.
      await limited.app.http.inject({ method: 'GET', url: `${P}/me` });
      expect(await code(`GET ${P}/me`, 429, { method: 'GET', url: `${P}/me` })).toBe('rate_limited');
    } finally {
      await limited.close();
    }
  });

  it('fails a route that answers a status the document does not list', async () => {
    const doc = structuredClone(c.doc);
    delete doc.paths['/healthz'].get.responses['200'];
    const strictContract = new Contract(doc, t);
    await expect(strictContract.send('GET /healthz', 200, { method: 'GET', url: '/healthz' })).rejects.toThrow(
      /status not in the document/,
    );
  });
});
