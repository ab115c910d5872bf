import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';
import {
  consumerApi,
  eventsOf,
  fileComplaint,
  okData,
  seedCompany,
  staffApi,
  type Tenant,
} from '../domain/complaint-fixtures.js';

/** What a complaint's detail page reads: messages, evidence metadata and bytes, offers, follow-ups, drafts, events. */
describe('Platform API: reading a complaint’s records', () => {
  let t: TestApp;
  let tenant: Tenant;
  let id: string;
  let reader: ReturnType<typeof staffApi>;
  let evidenceId: string;
  let posted: string;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    reader = staffApi(t, tenant.readKey);
    const staff = staffApi(t, tenant.adminKey);
    const consumer = consumerApi(t, tenant.consumerToken);
    id = await fileComplaint(t, tenant.consumerToken);
    t.clock.advance(1000);
    okData(await staff.post(`/complaints/${id}/claim`));
    t.clock.advance(1000);
    okData(await consumer.post(`/complaints/${id}/messages`, { body: 'Hello' }), 201);
    t.clock.advance(1000);
    okData(await staff.post(`/complaints/${id}/messages`, { body: 'Hi' }), 201);
    t.clock.advance(1000);
    evidenceId = okData(
      await consumer.post(`/complaints/${id}/evidence`, {
        file_name: 'r.pdf',
        content_type: 'application/pdf',
        content_base64: Buffer.from('%PDF').toString('base64'),
      }),
      201,
    ).evidence_id;
    t.clock.advance(1000);
    okData(await staff.post(`/complaints/${id}/settlements`, { amount: 9, currency: 'EUR', terms: 'Voucher' }), 201);
    t.clock.advance(1000);
    okData(await staff.post(`/complaints/${id}/followups`, { question: 'Why?' }), 201);
    t.clock.advance(1000);
    okData(await consumer.post(`/complaints/${id}/actions`, { kind: 'notice', body: 'N' }), 201);
    t.clock.advance(1000);
    okData(await consumer.post(`/complaints/${id}/social`, { platform: 'x', body: 'private draft' }), 201);
    t.clock.advance(1000);
    posted = okData(
      await consumer.post(`/complaints/${id}/social`, { platform: 'x', body: 'public post' }),
      201,
    ).draft_id;
    t.clock.advance(1000);
    okData(await consumer.post(`/complaints/${id}/social/${posted}/posted`));
    t.clock.advance(1000);
    okData(await consumer.post(`/complaints/${id}/escalate`));
  });
  afterAll(async () => t.close());

  it('lists messages both ways', async () => {
    const messages = okData(await reader.get(`/complaints/${id}/messages`));
    expect(messages.map((m: any) => [m.author_kind, m.body])).toEqual([
      ['consumer', 'Hello'],
      ['staff', 'Hi'],
    ]);
  });

  it('lists evidence metadata, never the bytes, and serves the bytes on their own route', async () => {
    const evidence = okData(await reader.get(`/complaints/${id}/evidence`));
    expect(evidence).toEqual([
      {
        id: evidenceId,
        file_name: 'r.pdf',
        content_type: 'application/pdf',
        size: 4,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        created_at: expect.any(String),
      },
    ]);
    const content = await t.app.http.inject({
      method: 'GET',
      url: `/api/v1/complaints/${id}/evidence/${evidenceId}/content`,
      headers: bearer(tenant.readKey),
    });
    expect(content.statusCode).toBe(200);
    expect(content.body).toBe('%PDF');
    expect(content.headers['content-type']).toBe('application/pdf');
    expect(content.headers['content-disposition']).toMatch(/^inline; filename="r\.pdf"/);
  });

  it('lists offers, follow-ups and action drafts', async () => {
    expect(okData(await reader.get(`/complaints/${id}/settlements`))).toMatchObject([
      { amount: 9, currency: 'EUR', terms: 'Voucher', status: 'open', created_by: 'api-key:admin' },
    ]);
    expect(okData(await reader.get(`/complaints/${id}/followups`))).toMatchObject([
      { question: 'Why?', answer: null, asked_by: 'api-key:admin' },
    ]);
    expect(okData(await reader.get(`/complaints/${id}/actions`))).toMatchObject([
      { kind: 'notice', body: 'N', status: 'drafted' },
    ]);
  });

  it('shows only posted social drafts: an unposted draft is the consumer’s own', async () => {
    expect(okData(await reader.get(`/complaints/${id}/social`))).toEqual([
      {
        draft_id: posted,
        platform: 'x',
        body: 'public post',
        status: 'posted',
        created_at: expect.any(String),
        posted_at: expect.any(String),
      },
    ]);
  });

  it('lists the event timeline oldest first, each {id, event, timestamp, data}, paged', async () => {
    const r = await reader.get(`/complaints/${id}/events`);
    const stored = await eventsOf(t.store.db, id);
    expect(r.body).toMatchObject({ success: true, page: 1, limit: 100, total: stored.length });
    expect(r.body.data).toEqual(stored.map((e) => e.body));
    expect(r.body.data.map((e: any) => e.event)).toEqual([
      'complaint.created',
      'complaint.claimed',
      'message.new',
      'evidence.uploaded',
      'action.drafted',
      'social.posted',
      'complaint.escalated',
    ]);
    for (const e of r.body.data) expect(Object.keys(e)).toEqual(['id', 'event', 'timestamp', 'data']);
    const last = await reader.get(`/complaints/${id}/events?page=3&limit=3`);
    expect(last.body).toMatchObject({ page: 3, limit: 3, total: 7, data: [{ event: 'complaint.escalated' }] });
  });
});
