import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { createTestApp, type TestApp } from '../helpers/harness.js';
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
 * Who may call the Consumer API and on what: a missing, unknown or revoked token is 401 on every route (checked
 * before the body is even read); another consumer's complaint, or a record of another complaint, is 404 exactly
 * like a missing one. Nothing is written by any of it.
 */
describe('Consumer API: credentials and ownership', () => {
  let t: TestApp;
  let tenant: Tenant;
  let id: string;
  let otherId: string;
  let records: { offer: string; followup: string; draft: string; social: string; evidence: string };
  let otherRecords: typeof records;
  let revokedToken: string;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    const acme = await seedCompany(t, { code: 'ACME' });
    id = await fileComplaint(t, tenant.consumerToken);
    // Another consumer's complaint, against another company.
    otherId = await fileComplaint(t, acme.consumerToken, { company_code: 'ACME' });
    records = await makeRecords(tenant, tenant.consumerToken, id);
    otherRecords = await makeRecords(acme, acme.consumerToken, otherId);
    const revoked = await createConsumerWithToken(t.app.ctx, { email: 'revoked@example.test' });
    revokedToken = revoked.token;
    await t.store.db
      .updateTable('consumer_tokens')
      .set({ revoked_at: t.clock.now() })
      .where('consumer_id', '=', revoked.consumer.id)
      .execute();
  });
  afterAll(async () => t.close());

  async function makeRecords(owner: Tenant, token: string, complaint: string) {
    const staff = staffApi(t, owner.adminKey);
    const consumer = consumerApi(t, token);
    return {
      offer: okData(
        await staff.post(`/complaints/${complaint}/settlements`, { amount: 5, currency: 'INR', terms: 't' }),
        201,
      ).offer_id,
      followup: okData(await staff.post(`/complaints/${complaint}/followups`, { question: 'q' }), 201).followup_id,
      draft: okData(await consumer.post(`/complaints/${complaint}/actions`, { kind: 'k', body: 'b' }), 201).draft_id,
      social: okData(await consumer.post(`/complaints/${complaint}/social`, { platform: 'x', body: 'b' }), 201)
        .draft_id,
      evidence: okData(
        await consumer.post(`/complaints/${complaint}/evidence`, {
          file_name: 'a.txt',
          content_type: 'text/plain',
          content_base64: 'aGk=',
        }),
        201,
      ).evidence_id,
    };
  }

  /** Every Consumer API route, for a complaint and its records, with a body that would otherwise be accepted. */
  const routesFor = (c: string, r: typeof records): Array<[string, string, unknown?]> => [
    ['GET', `/complaints/${c}`],
    ['POST', `/complaints/${c}/escalate`],
    ['POST', `/complaints/${c}/resolve`, { resolution_type: 'refund' }],
    ['POST', `/complaints/${c}/withdraw`, { reason_code: 'x' }],
    ['POST', `/complaints/${c}/delegate`, { to_email: 'bob@example.test', immediate_transfer: true }],
    ['POST', `/complaints/${c}/messages`, { body: 'hi' }],
    ['POST', `/complaints/${c}/evidence`, { file_name: 'a.txt', content_type: 'text/plain', content_base64: 'aGk=' }],
    ['POST', `/complaints/${c}/settlements/${r.offer}/respond`, { action: 'accept' }],
    ['POST', `/complaints/${c}/followups/${r.followup}/answer`, { answer: 'a' }],
    ['POST', `/complaints/${c}/actions`, { kind: 'k', body: 'b' }],
    ['POST', `/complaints/${c}/actions/${r.draft}/file`],
    ['POST', `/complaints/${c}/social`, { platform: 'x', body: 'b' }],
    ['POST', `/complaints/${c}/social/${r.social}/posted`],
    ['GET', `/complaints/${c}/messages`],
    ['GET', `/complaints/${c}/evidence`],
    ['GET', `/complaints/${c}/evidence/${r.evidence}/content`],
    ['GET', `/complaints/${c}/settlements`],
    ['GET', `/complaints/${c}/followups`],
    ['GET', `/complaints/${c}/actions`],
    ['GET', `/complaints/${c}/social`],
    ['GET', `/complaints/${c}/events`],
  ];

  const send = (method: string, path: string, payload: unknown, headers: Record<string, string>) =>
    call(t, {
      method: method as 'GET' | 'POST',
      url: `/api/consumer/v1${path}`,
      headers,
      ...(payload === undefined
        ? {}
        : { payload: JSON.stringify(payload), headers: { ...headers, 'content-type': 'application/json' } }),
    });

  it('answers 401 to a missing, unknown, revoked or malformed credential on every route', async () => {
    const before = await snapshot(t.store.db);
    const credentials: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer csk_${'0'.repeat(40)}` },
      { authorization: `Bearer ${revokedToken}` },
      { authorization: `Bearer ${tenant.adminKey}` },
      { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` },
      { authorization: 'Bearer' },
      { authorization: `Bearer ${tenant.consumerToken} extra` },
      { 'x-api-key': tenant.adminKey },
    ];
    const all: Array<[string, string, unknown?]> = [
      ['POST', '/complaints', complaintInput()],
      ['GET', '/complaints'],
      ...routesFor(id, records),
    ];
    for (const headers of credentials) {
      for (const [method, path, payload] of all) {
        const r = await send(method, path, payload, headers);
        expect({ method, path, headers, status: r.status, code: r.body.error?.code }).toEqual({
          method,
          path,
          headers,
          status: 401,
          code: 'unauthorized',
        });
      }
    }
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it('checks the credential before reading the body: no token and a broken or huge body is still 401', async () => {
    const base = {
      method: 'POST' as const,
      url: `/api/consumer/v1/complaints/${id}/messages`,
      headers: { 'content-type': 'application/json' },
    };
    expectError(await call(t, { ...base, payload: '{broken' }), 401, 'unauthorized');
    expectError(
      await call(t, { ...base, payload: JSON.stringify({ body: 'x'.repeat(3 * 1024 * 1024) }) }),
      401,
      'unauthorized',
    );
  });

  it("answers 404 for another consumer's complaint on every route, exactly as for a missing one", async () => {
    const before = await snapshot(t.store.db);
    const missing = id.replace(/\d{5}$/, '99999');
    for (const complaint of [otherId, missing, 'ESC-NOPE', 'not-an-id', '..%2F..%2Fetc']) {
      for (const [method, path, payload] of routesFor(complaint, otherRecords)) {
        const r = await send(method, path, payload, { authorization: `Bearer ${tenant.consumerToken}` });
        expect({ path, status: r.status, code: r.body.error?.code }).toEqual({ path, status: 404, code: 'not_found' });
      }
    }
    // The two answers are the same, word for word apart from the id.
    const other = await send('GET', `/complaints/${otherId}`, undefined, {
      authorization: `Bearer ${tenant.consumerToken}`,
    });
    const gone = await send('GET', `/complaints/${missing}`, undefined, {
      authorization: `Bearer ${tenant.consumerToken}`,
    });
    expect(other.body.error.message.replace(otherId, '{id}')).toBe(gone.body.error.message.replace(missing, '{id}'));
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it("answers 404 for another complaint's records, unknown ones and malformed ids", async () => {
    const before = await snapshot(t.store.db);
    const unknown = {
      offer: 'off_00000000000000000000',
      followup: 'fup_00000000000000000000',
      draft: 'drf_00000000000000000000',
      social: 'soc_00000000000000000000',
      evidence: 'evd_00000000000000000000',
    };
    const malformed = {
      offer: 'OFF-1',
      followup: '1',
      draft: 'drf_',
      social: 'soc_!!!!!!!!!!',
      evidence: 'x'.repeat(80),
    };
    for (const r of [otherRecords, unknown, malformed]) {
      const recordRoutes = routesFor(id, r).filter(([, path]) => /\/(respond|answer|file|posted|content)$/.test(path));
      expect(recordRoutes).toHaveLength(5);
      for (const [method, path, payload] of recordRoutes) {
        const answer = await send(method, path, payload, { authorization: `Bearer ${tenant.consumerToken}` });
        expect({ path, status: answer.status, code: answer.body.error?.code }).toEqual({
          path,
          status: 404,
          code: 'not_found',
        });
      }
    }
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it("lists only the consumer's own complaints", async () => {
    const mine = okData(await consumerApi(t, tenant.consumerToken).get('/complaints'));
    expect(mine.map((c: { escalatr_id: string }) => c.escalatr_id)).toEqual([id]);
  });
});
