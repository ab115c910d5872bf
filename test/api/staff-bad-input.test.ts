import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';
import {
  call,
  consumerApi,
  expectError,
  fileComplaint,
  okData,
  seedCompany,
  snapshot,
  type Tenant,
} from '../domain/complaint-fixtures.js';

/**
 * Bad input on the staff steps and reads: each is a 4xx with a code, never a 500, and writes nothing; another
 * company's complaint or evidence answers 404 exactly like a missing one.
 */
describe('Platform API staff routes: bad input', () => {
  let t: TestApp;
  let tenant: Tenant;
  let id: string;
  let acmeId: string;
  let acmeEvidence: string;
  let before: Record<string, string>;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    const acme = await seedCompany(t, { code: 'ACME' });
    id = await fileComplaint(t, tenant.consumerToken);
    acmeId = await fileComplaint(t, acme.consumerToken, { company_code: 'ACME' });
    acmeEvidence = okData(
      await consumerApi(t, acme.consumerToken).post(`/complaints/${acmeId}/evidence`, {
        file_name: 'a.txt',
        content_type: 'text/plain',
        content_base64: 'aGk=',
      }),
      201,
    ).evidence_id;
  });
  afterAll(async () => t.close());

  const post = (path: string, payload: unknown, headers: Record<string, string> = {}) =>
    call(t, {
      method: 'POST',
      url: `/api/v1${path}`,
      headers: {
        ...bearer(tenant.adminKey),
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(payload === undefined ? {} : { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
    });

  const routes: Array<{
    name: string;
    path: string;
    valid: Record<string, unknown>;
    wrong: Record<string, unknown[]>;
  }> = [
    {
      name: 'complete',
      path: 'complete',
      valid: { resolution_notes: 'Fixed' },
      wrong: { resolution_notes: [1, '', '  ', null, 'x'.repeat(10_001), ['a']] },
    },
    { name: 'message', path: 'messages', valid: { body: 'On it' }, wrong: { body: [1, '', null, 'x'.repeat(10_001)] } },
    {
      name: 'settlement offer',
      path: 'settlements',
      valid: { amount: 10, currency: 'INR', terms: 'Refund' },
      wrong: { amount: ['10', -1, 1e13, null], currency: ['inr', 'RUPEE', 356, ''], terms: [1, '', 'x'.repeat(5_001)] },
    },
    {
      name: 'follow-up',
      path: 'followups',
      valid: { question: 'When?' },
      wrong: { question: [1, '', false, 'x'.repeat(5_001)] },
    },
  ];

  for (const route of routes) {
    describe(route.name, () => {
      afterEach(async () => expect(await snapshot(t.store.db)).toEqual(before));
      const at = () => `/complaints/${id}/${route.path}`;

      it('refuses missing fields, wrong types and extra fields', async () => {
        before = await snapshot(t.store.db);
        for (const field of Object.keys(route.wrong)) {
          const { [field]: _, ...rest } = route.valid;
          expectError(await post(at(), rest), 400, 'validation_failed');
          for (const value of route.wrong[field]) {
            const r = await post(at(), { ...route.valid, [field]: value });
            expect({ field, value, status: r.status, code: r.body.error?.code }).toEqual({
              field,
              value,
              status: 400,
              code: 'validation_failed',
            });
          }
        }
        expectError(await post(at(), { ...route.valid, claimed_by: 'me' }), 400, 'validation_failed');
      });

      it('refuses invalid JSON, non-objects, empty and huge bodies', async () => {
        before = await snapshot(t.store.db);
        for (const body of ['{', '{"a":1,}', 'undefined']) expectError(await post(at(), body), 400, 'invalid_json');
        for (const body of ['[]', '1', '"s"']) expectError(await post(at(), body), 400, 'validation_failed');
        expectError(await post(at(), ''), 400, 'invalid_json');
        expectError(await post(at(), { ...route.valid, pad: 'x'.repeat(1024 * 1024) }), 413, 'payload_too_large');
      });

      it("answers 404 for another company's complaint, a missing one and a malformed id", async () => {
        before = await snapshot(t.store.db);
        for (const complaint of [acmeId, id.replace(/\d{5}$/, '99999'), 'ESC-VOLT-1', 'esc-volt-260417-00001']) {
          expectError(await post(`/complaints/${complaint}/${route.path}`, route.valid), 404, 'not_found');
        }
      });
    });
  }

  it("answers 404 for another company's complaint on claim, release and every read", async () => {
    before = await snapshot(t.store.db);
    for (const step of ['claim', 'release'])
      expectError(await post(`/complaints/${acmeId}/${step}`, undefined), 404, 'not_found');
    for (const path of [
      'messages',
      'evidence',
      'settlements',
      'followups',
      'actions',
      'social',
      'events',
      `evidence/${acmeEvidence}/content`,
    ]) {
      const r = await call(t, {
        method: 'GET',
        url: `/api/v1/complaints/${acmeId}/${path}`,
        headers: bearer(tenant.adminKey),
      });
      expect({ path, status: r.status, code: r.body.error?.code }).toEqual({ path, status: 404, code: 'not_found' });
    }
    // Another company's evidence id under one's own complaint is not found either.
    const r = await call(t, {
      method: 'GET',
      url: `/api/v1/complaints/${id}/evidence/${acmeEvidence}/content`,
      headers: bearer(tenant.adminKey),
    });
    expectError(r, 404, 'not_found');
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it('refuses bad paging on the reads', async () => {
    for (const q of ['page=0', 'limit=101', 'limit=abc', 'order=desc']) {
      const r = await call(t, {
        method: 'GET',
        url: `/api/v1/complaints/${id}/events?${q}`,
        headers: bearer(tenant.adminKey),
      });
      expect({ q, status: r.status, code: r.body.error?.code }).toEqual({ q, status: 400, code: 'invalid_query' });
    }
  });
});
