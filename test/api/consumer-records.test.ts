import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import {
  consumerApi,
  eventsOf,
  fileComplaint,
  okData,
  seedCompany,
  staffApi,
  type Tenant,
} from '../domain/complaint-fixtures.js';

/** A consumer reads everything on their complaint: messages both ways, evidence, offers, follow-ups, drafts, events. */
describe('Consumer API: reading a complaint’s records', () => {
  let t: TestApp;
  let tenant: Tenant;
  let id: string;
  let consumer: ReturnType<typeof consumerApi>;
  let ids: Record<string, string>;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    consumer = consumerApi(t, tenant.consumerToken);
    const staff = staffApi(t, tenant.adminKey);
    id = await fileComplaint(t, tenant.consumerToken);
    const step = async <T>(p: Promise<{ status: number; body: any }>, status = 201): Promise<T> => {
      t.clock.advance(1000);
      return okData(await p, status);
    };
    ids = {
      m1: (await step<any>(consumer.post(`/complaints/${id}/messages`, { body: 'Where is my refund?' }))).message_id,
      m2: (await step<any>(staff.post(`/complaints/${id}/messages`, { body: 'Processing it' }))).message_id,
      offer: (
        await step<any>(
          staff.post(`/complaints/${id}/settlements`, { amount: 100.5, currency: 'INR', terms: 'Refund' }),
        )
      ).offer_id,
      followup: (await step<any>(staff.post(`/complaints/${id}/followups`, { question: 'Order number?' }))).followup_id,
      draft: (await step<any>(consumer.post(`/complaints/${id}/actions`, { kind: 'notice', body: 'Formal notice' })))
        .draft_id,
      social: (await step<any>(consumer.post(`/complaints/${id}/social`, { platform: 'x', body: 'Not happy' })))
        .draft_id,
    };
    await step(
      consumer.post(`/complaints/${id}/settlements/${ids.offer}/respond`, { action: 'counter', counter_amount: 150 }),
      200,
    );
    await step(consumer.post(`/complaints/${id}/followups/${ids.followup}/answer`, { answer: 'A-1' }), 200);
  });
  afterAll(async () => t.close());

  it('lists messages both ways, oldest first, with paging fields', async () => {
    const r = await consumer.get(`/complaints/${id}/messages`);
    expect(r.body).toMatchObject({ success: true, page: 1, limit: 100, total: 2 });
    expect(r.body.data).toEqual([
      {
        id: ids.m1,
        author_kind: 'consumer',
        author: 'alice+volt@example.test',
        body: 'Where is my refund?',
        directed_to: 'company',
        created_at: '2026-04-17T09:00:01.000Z',
      },
      {
        id: ids.m2,
        author_kind: 'staff',
        author: 'api-key:admin',
        body: 'Processing it',
        directed_to: 'consumer',
        created_at: '2026-04-17T09:00:02.000Z',
      },
    ]);
    const paged = await consumer.get(`/complaints/${id}/messages?page=2&limit=1`);
    expect(paged.body).toMatchObject({ page: 2, limit: 1, total: 2, data: [{ id: ids.m2 }] });
  });

  it('lists settlement offers with the response', async () => {
    expect(okData(await consumer.get(`/complaints/${id}/settlements`))).toEqual([
      {
        id: ids.offer,
        amount: 100.5,
        currency: 'INR',
        terms: 'Refund',
        status: 'countered',
        counter_amount: 150,
        created_by: 'api-key:admin',
        created_at: '2026-04-17T09:00:03.000Z',
        responded_at: '2026-04-17T09:00:07.000Z',
      },
    ]);
  });

  it('lists follow-ups with their answers', async () => {
    expect(okData(await consumer.get(`/complaints/${id}/followups`))).toEqual([
      {
        id: ids.followup,
        question: 'Order number?',
        answer: 'A-1',
        asked_by: 'api-key:admin',
        created_at: '2026-04-17T09:00:04.000Z',
        answered_at: '2026-04-17T09:00:08.000Z',
      },
    ]);
  });

  it('lists action drafts and the consumer’s own social drafts', async () => {
    expect(okData(await consumer.get(`/complaints/${id}/actions`))).toEqual([
      {
        action_id: expect.stringMatching(/^act_/),
        draft_id: ids.draft,
        kind: 'notice',
        body: 'Formal notice',
        status: 'drafted',
        respond_by: '2026-04-20T09:00:05.000Z',
        created_at: '2026-04-17T09:00:05.000Z',
        filed_at: null,
      },
    ]);
    expect(okData(await consumer.get(`/complaints/${id}/social`))).toEqual([
      {
        draft_id: ids.social,
        platform: 'x',
        body: 'Not happy',
        status: 'drafted',
        created_at: '2026-04-17T09:00:06.000Z',
        posted_at: null,
      },
    ]);
  });

  it('lists the complaint’s events oldest first, as webhooks carry them', async () => {
    const stored = await eventsOf(t.store.db, id);
    const listed = okData(await consumer.get(`/complaints/${id}/events`));
    expect(listed).toEqual(stored.map((e) => e.body));
    expect(listed.map((e: { event: string }) => e.event)).toEqual([
      'complaint.created',
      'message.new',
      'action.drafted',
      'settlement.responded',
      'followup.replied',
    ]);
  });

  it('lists nothing for a fresh complaint', async () => {
    const fresh = await fileComplaint(t, tenant.consumerToken);
    for (const path of ['messages', 'evidence', 'settlements', 'followups', 'actions', 'social']) {
      expect((await consumer.get(`/complaints/${fresh}/${path}`)).body).toMatchObject({
        success: true,
        total: 0,
        data: [],
      });
    }
  });
});
