import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';
import {
  call,
  complaintInput,
  consumerApi,
  expectError,
  fileComplaint,
  okData,
  seedCompany,
  snapshot,
  staffApi,
  type Tenant,
} from '../domain/complaint-fixtures.js';

/**
 * Bad bodies on every Consumer API route with one: each is a 4xx with a code, never a 500, and writes nothing.
 * One app serves the whole file (each case is read-only by design, which the snapshots check).
 */
describe('Consumer API: bad input', () => {
  let t: TestApp;
  let tenant: Tenant;
  let id: string;
  let offerId: string;
  let followupId: string;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    id = await fileComplaint(t, tenant.consumerToken);
    const staff = staffApi(t, tenant.adminKey);
    offerId = okData(
      await staff.post(`/complaints/${id}/settlements`, { amount: 5, currency: 'INR', terms: 't' }),
      201,
    ).offer_id;
    followupId = okData(await staff.post(`/complaints/${id}/followups`, { question: 'q' }), 201).followup_id;
  });
  afterAll(async () => t.close());

  let before: Record<string, string>;
  const post = (path: string, payload: unknown, headers: Record<string, string> = {}) =>
    call(t, {
      method: 'POST',
      url: `/api/consumer/v1${path}`,
      headers: { ...bearer(tenant.consumerToken), 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  // Each route: a valid body (used to derive bad ones), its required fields, and wrong-typed values per field.
  const routes: Array<{
    name: string;
    path: () => string;
    valid: Record<string, unknown>;
    required: string[];
    wrong: Record<string, unknown[]>;
  }> = [
    {
      name: 'file a complaint',
      path: () => '/complaints',
      valid: complaintInput(),
      required: ['company_code', 'complaint_category', 'title', 'description'],
      wrong: {
        company_code: [123, 'volt', 'TOOLONGCODE', 'V', null, ['VOLT']],
        complaint_category: [1, '', '   ', null, 'x'.repeat(101)],
        title: [true, '', 'x'.repeat(201), { a: 1 }],
        description: [[], '', 'x'.repeat(10_001)],
        priority: ['urgent', 1, null, 'HIGH'],
        amount_involved: ['42000', -1, 1e13, true],
        currency: ['inr', 'RUPEES', 1, 'IN'],
      },
    },
    {
      name: 'resolve',
      path: () => `/complaints/${id}/resolve`,
      valid: { resolution_type: 'refund', amount_recovered: 10 },
      required: ['resolution_type'],
      wrong: { resolution_type: [1, '', null], amount_recovered: ['10', -5, false] },
    },
    {
      name: 'withdraw',
      path: () => `/complaints/${id}/withdraw`,
      valid: { reason_code: 'changed_mind' },
      required: ['reason_code'],
      wrong: { reason_code: [1, '', ' ', null] },
    },
    {
      name: 'delegate',
      path: () => `/complaints/${id}/delegate`,
      valid: { to_email: 'bob@example.test', immediate_transfer: false },
      required: ['to_email', 'immediate_transfer'],
      wrong: {
        to_email: [1, 'not-an-email', 'ab', 'alice+volt@example.test', null],
        immediate_transfer: ['false', 0, null],
      },
    },
    {
      name: 'message',
      path: () => `/complaints/${id}/messages`,
      valid: { body: 'hello', directed_to: 'manager' },
      required: ['body'],
      wrong: { body: [1, '', '  ', 'x'.repeat(10_001)], directed_to: [1, '', null] },
    },
    {
      name: 'respond to an offer',
      path: () => `/complaints/${id}/settlements/${offerId}/respond`,
      valid: { action: 'counter', counter_amount: 3 },
      required: ['action'],
      wrong: { action: ['approve', 1, null], counter_amount: ['3', -3] },
    },
    {
      name: 'answer a follow-up',
      path: () => `/complaints/${id}/followups/${followupId}/answer`,
      valid: { answer: 'a' },
      required: ['answer'],
      wrong: { answer: [1, '', null] },
    },
    {
      name: 'draft an action',
      path: () => `/complaints/${id}/actions`,
      valid: { kind: 'notice', body: 'b' },
      required: ['kind', 'body'],
      wrong: { kind: [1, '', 'x'.repeat(101)], body: [null, '', 'x'.repeat(20_001)] },
    },
    {
      name: 'draft a social post',
      path: () => `/complaints/${id}/social`,
      valid: { platform: 'x', body: 'b' },
      required: ['platform', 'body'],
      wrong: { platform: [1, '', 'x'.repeat(51)], body: [[], '', 'x'.repeat(5_001)] },
    },
    {
      name: 'upload evidence',
      path: () => `/complaints/${id}/evidence`,
      valid: { file_name: 'a.txt', content_type: 'text/plain', content_base64: 'aGk=' },
      required: ['file_name', 'content_type', 'content_base64'],
      wrong: {
        file_name: [1, '', '../etc/passwd', 'a\\b', 'line\nbreak', 'nul\u0000', 'x'.repeat(256)],
        content_type: [1, 'text', 'text/html; charset=utf-8', ''],
        content_base64: [1, '', null],
      },
    },
  ];

  for (const route of routes) {
    describe(route.name, () => {
      afterEach(async () => {
        // Every case in this block was refused: nothing anywhere changed.
        expect(await snapshot(t.store.db)).toEqual(before);
      });
      const snap = async () => {
        before = await snapshot(t.store.db);
      };

      it('refuses a missing required field', async () => {
        await snap();
        for (const field of route.required) {
          const { [field]: _, ...rest } = route.valid;
          expectError(await post(route.path(), rest), 400, 'validation_failed');
        }
      });

      it('refuses a wrong type or an out-of-range value in each field', async () => {
        await snap();
        for (const [field, values] of Object.entries(route.wrong)) {
          for (const value of values) {
            const r = await post(route.path(), { ...route.valid, [field]: value });
            expect({ field, value, status: r.status, code: r.body.error?.code }).toEqual({
              field,
              value,
              status: 400,
              // Text that cannot be stored is refused before the route's own rules, with its own code.
              code: typeof value === 'string' && value.includes('\u0000') ? 'invalid_text' : 'validation_failed',
            });
          }
        }
      });

      it('refuses an extra field', async () => {
        await snap();
        expectError(await post(route.path(), { ...route.valid, is_admin: true }), 400, 'validation_failed');
      });

      it('refuses a body that is not an object, invalid JSON, an empty body and a huge body', async () => {
        await snap();
        for (const body of ['[]', '"text"', '42', 'null'])
          expectError(await post(route.path(), body), 400, 'validation_failed');
        for (const body of ['{"a":', "{'a': 1}", '{"a":1}}', '\u0000'])
          expectError(await post(route.path(), body), 400, 'invalid_json');
        expectError(await post(route.path(), ''), 400, 'invalid_json');
        expectError(
          await post(route.path(), { ...route.valid, padding: 'x'.repeat(8 * 1024 * 1024) }),
          413,
          'payload_too_large',
        );
      });

      it('refuses a body that is not JSON', async () => {
        await snap();
        const r = await post(route.path(), 'resolution_type=refund', {
          'content-type': 'application/x-www-form-urlencoded',
        });
        expect(r.status).toBe(415);
        expect(r.body.error.code).toBe('unsupported_media_type');
      });
    });
  }

  it('refuses a counter without a counter amount, and filing against an unknown company', async () => {
    before = await snapshot(t.store.db);
    expectError(
      await post(`/complaints/${id}/settlements/${offerId}/respond`, { action: 'counter' }),
      400,
      'validation_failed',
    );
    expectError(await post('/complaints', complaintInput({ company_code: 'NOPE' })), 400, 'validation_failed');
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it('refuses bad query parameters on the list', async () => {
    const consumer = consumerApi(t, tenant.consumerToken);
    for (const q of [
      'page=0',
      'page=x',
      'limit=0',
      'limit=101',
      'status=Closed',
      'escalation_level=L10',
      'stage=intake',
      'sort=asc',
      // The company's own markers and its list's cursor: refused, never answered as if unfiltered.
      'flagged=true',
      'flagged=false',
      'assignee=me',
      'assignee=none',
      'cursor=start',
    ]) {
      const r = await consumer.get(`/complaints?${q}`);
      expect({ q, status: r.status, code: r.body.error?.code }).toEqual({ q, status: 400, code: 'invalid_query' });
    }
    for (const q of ['limit=0', 'page=-1', 'foo=bar'])
      expectError(await consumer.get(`/complaints/${id}/messages?${q}`), 400, 'invalid_query');
  });
});
