import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/harness.js';
import {
  eventsOf,
  expectEnvelope,
  fileComplaint,
  okData,
  type Answer,
  type StoredEvent,
  type Tenant,
  companyScene,
  type ConsumerApi,
  type StaffApi,
} from './complaint-fixtures.js';

/**
 * Every consumer and staff step of the SPEC §3 table: the step succeeds and writes exactly one event, with the
 * right name, the webhook envelope, and data carrying the complaint's state after the change plus the row's fields.
 */
describe('each lifecycle step emits exactly its one event', () => {
  let t: TestApp, tenant: Tenant, consumer: ConsumerApi, staff: StaffApi;
  let id: string;

  beforeEach(async () => {
    ({ t, tenant, consumer, staff } = await companyScene());
    id = await fileComplaint(t, tenant.consumerToken, { complaint_category: 'Banking', priority: 'critical' });
  });
  afterEach(async () => t.close());

  /** Runs a step at an odd millisecond and returns the one event it wrote. */
  async function oneEvent(run: () => Promise<Answer>, status = 200): Promise<{ event: StoredEvent; data: any }> {
    const before = new Set((await eventsOf(t.store.db)).map((e) => e.id));
    t.clock.advance(1_234);
    const data = okData(await run(), status);
    const fresh = (await eventsOf(t.store.db)).filter((e) => !before.has(e.id));
    expect(fresh.map((e) => e.name)).toHaveLength(1);
    const event = fresh[0];
    expectEnvelope(event);
    expect(event.body.timestamp).toBe(new Date(t.clock.now()).toISOString());
    expect(event.complaint_id).toBe(id);
    return { event, data };
  }

  /** What every event's data starts with: the complaint's state after the step (filed as Banking, critical). */
  const stateAfter = (status = 'Open', escalation_level = 'L1') => ({
    escalatr_id: id,
    status,
    escalation_level,
    complaint_category: 'Banking',
    priority: 'critical',
  });

  async function state() {
    return okData(await consumer.get(`/complaints/${id}`));
  }

  it('complaint.created carries the category and priority', async () => {
    const [created] = await eventsOf(t.store.db, id);
    expectEnvelope(created);
    expect(created.name).toBe('complaint.created');
    expect(created.body.data).toEqual(stateAfter());
  });

  it('complaint.escalated (manual) carries to_level and trigger', async () => {
    const { event, data } = await oneEvent(() => consumer.post(`/complaints/${id}/escalate`));
    expect(data.escalation_level).toBe('L2');
    expect(event.body.data).toEqual({
      ...stateAfter('Escalated', 'L2'),
      to_level: 'L2',
      trigger: 'manual',
    });
  });

  it('complaint.claimed and complaint.released name the staff member', async () => {
    const claimed = await oneEvent(() => staff.post(`/complaints/${id}/claim`));
    expect(claimed.event.name).toBe('complaint.claimed');
    expect(claimed.event.body.data).toMatchObject({
      ...stateAfter(),
      claimed_by: 'api-key:admin',
    });
    expect(claimed.data.claimed_by).toBe('api-key:admin');

    const released = await oneEvent(() => staff.post(`/complaints/${id}/release`));
    expect(released.event.name).toBe('complaint.released');
    expect(released.event.body.data).toMatchObject({
      ...stateAfter(),
      released_by: 'api-key:admin',
    });
    expect(released.data.claimed_by).toBeNull();
  });

  it('complaint.completed carries the resolution notes', async () => {
    await consumer.post(`/complaints/${id}/escalate`);
    okData(await staff.post(`/complaints/${id}/claim`));
    const { event, data } = await oneEvent(() =>
      staff.post(`/complaints/${id}/complete`, { resolution_notes: 'Replaced the compressor' }),
    );
    expect(event.name).toBe('complaint.completed');
    expect(event.body.data).toMatchObject({
      ...stateAfter('Escalated', 'L2'),
      resolution_notes: 'Replaced the compressor',
    });
    expect(data.stage).toBe('Closure');
    expect(data.resolution.notes).toBe('Replaced the compressor');
    expect(data).toMatchObject({ company_completed: true, awaiting: 'consumer' });
  });

  it('the detail says plainly who acts next, for staff and consumer alike', async () => {
    const both = async () => [
      okData(await staff.get(`/complaints/${id}`)),
      okData(await consumer.get(`/complaints/${id}`)),
    ];
    const expectBoth = async (fields: Record<string, unknown>) => {
      for (const detail of await both()) expect(detail).toMatchObject(fields);
    };
    await expectBoth({ company_completed: false, awaiting: 'company' });
    okData(await staff.post(`/complaints/${id}/claim`));
    await expectBoth({ company_completed: false, awaiting: 'company' });
    okData(await staff.post(`/complaints/${id}/complete`, { resolution_notes: 'Replaced the compressor' }));
    await expectBoth({ status: 'Open', stage: 'Closure', company_completed: true, awaiting: 'consumer' });
    okData(await consumer.post(`/complaints/${id}/escalate`));
    await expectBoth({ status: 'Escalated', stage: 'Escalation', company_completed: false, awaiting: 'company' });
    okData(await staff.post(`/complaints/${id}/complete`, { resolution_notes: 'Replaced it again' }));
    await expectBoth({ company_completed: true, awaiting: 'consumer' });
    okData(await consumer.post(`/complaints/${id}/resolve`, { resolution_type: 'repair' }));
    await expectBoth({ status: 'Resolved', company_completed: false, awaiting: null });
  });

  it('complaint.resolved carries the resolution type and amount recovered', async () => {
    const { event, data } = await oneEvent(() =>
      consumer.post(`/complaints/${id}/resolve`, { resolution_type: 'refund', amount_recovered: 41000.5 }),
    );
    expect(event.name).toBe('complaint.resolved');
    expect(event.body.data).toEqual({
      ...stateAfter('Resolved'),
      resolution_type: 'refund',
      amount_recovered: 41000.5,
    });
    expect(data.status).toBe('Resolved');
  });

  it('complaint.resolved without an amount carries amount_recovered null', async () => {
    const { event } = await oneEvent(() => consumer.post(`/complaints/${id}/resolve`, { resolution_type: 'apology' }));
    expect(event.body.data).toMatchObject({ resolution_type: 'apology', amount_recovered: null });
  });

  it('complaint.withdrawn carries the reason code', async () => {
    const { event, data } = await oneEvent(() =>
      consumer.post(`/complaints/${id}/withdraw`, { reason_code: 'resolved_elsewhere' }),
    );
    expect(event.name).toBe('complaint.withdrawn');
    expect(event.body.data).toEqual({
      ...stateAfter('Withdrawn'),
      reason_code: 'resolved_elsewhere',
    });
    expect(data.status).toBe('Withdrawn');
  });

  it('complaint.delegated carries the delegate and whether it was an immediate transfer', async () => {
    const { event } = await oneEvent(() =>
      consumer.post(`/complaints/${id}/delegate`, { to_email: ' Bob@Example.test ', immediate_transfer: false }),
    );
    expect(event.name).toBe('complaint.delegated');
    expect(event.body.data).toEqual({
      ...stateAfter(),
      to_email: 'bob@example.test',
      immediate_transfer: false,
    });
    expect((await state()).delegated_to).toBe('bob@example.test');
  });

  it('complaint.delegated with an immediate transfer hands the complaint to the delegate', async () => {
    const { event } = await oneEvent(() =>
      consumer.post(`/complaints/${id}/delegate`, { to_email: 'carol@example.test', immediate_transfer: true }),
    );
    expect(event.body.data).toMatchObject({ to_email: 'carol@example.test', immediate_transfer: true });
    const row = await t.store.db
      .selectFrom('complaints')
      .innerJoin('consumers', 'consumers.id', 'complaints.consumer_id')
      .select('consumers.email')
      .where('escalatr_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.email).toBe('carol@example.test');
  });

  it('settlement.responded carries the action and offer id, for accept, reject and counter', async () => {
    for (const action of ['reject', 'counter', 'accept'] as const) {
      const offer = okData(
        await staff.post(`/complaints/${id}/settlements`, {
          amount: 30000,
          currency: 'INR',
          terms: 'Full refund on return',
        }),
        201,
      );
      expect(offer.offer_id).toMatch(/^off_/);
      const body = action === 'counter' ? { action, counter_amount: 38000 } : { action };
      const { event } = await oneEvent(() =>
        consumer.post(`/complaints/${id}/settlements/${offer.offer_id}/respond`, body),
      );
      expect(event.name).toBe('settlement.responded');
      expect(event.body.data).toMatchObject({
        ...stateAfter(),
        action,
        offer_id: offer.offer_id,
      });
      const stored = await t.store.db
        .selectFrom('settlement_offers')
        .selectAll()
        .where('id', '=', offer.offer_id)
        .executeTakeFirstOrThrow();
      expect(stored.status).toBe({ accept: 'accepted', reject: 'rejected', counter: 'countered' }[action]);
      if (action === 'counter') expect(Number(stored.counter_amount)).toBe(38000);
    }
  });

  it('message.new carries the message id and who it is for', async () => {
    const { event, data } = await oneEvent(
      () => consumer.post(`/complaints/${id}/messages`, { body: 'Any update?' }),
      201,
    );
    expect(event.name).toBe('message.new');
    expect(event.body.data).toEqual({
      ...stateAfter(),
      message_id: data.message_id,
      directed_to: 'company',
    });

    const directed = await oneEvent(
      () => consumer.post(`/complaints/${id}/messages`, { body: 'For the manager', directed_to: 'manager' }),
      201,
    );
    expect(directed.event.body.data).toMatchObject({ message_id: directed.data.message_id, directed_to: 'manager' });
  });

  it('evidence.uploaded carries the evidence id and file name', async () => {
    const bytes = Buffer.from('%PDF-1.4 receipt');
    const { event, data } = await oneEvent(
      () =>
        consumer.post(`/complaints/${id}/evidence`, {
          file_name: 'receipt.pdf',
          content_type: 'application/pdf',
          content_base64: bytes.toString('base64'),
        }),
      201,
    );
    expect(event.name).toBe('evidence.uploaded');
    expect(event.body.data).toEqual({
      ...stateAfter(),
      evidence_id: data.evidence_id,
      file_name: 'receipt.pdf',
    });
    expect(data.size).toBe(bytes.length);
  });

  it('followup.replied says whether every follow-up is now answered', async () => {
    const first = okData(await staff.post(`/complaints/${id}/followups`, { question: 'When did you buy it?' }), 201);
    const second = okData(
      await staff.post(`/complaints/${id}/followups`, { question: 'Do you have the receipt?' }),
      201,
    );
    const a = await oneEvent(() =>
      consumer.post(`/complaints/${id}/followups/${first.followup_id}/answer`, { answer: 'In March' }),
    );
    expect(a.event.name).toBe('followup.replied');
    expect(a.event.body.data).toMatchObject({
      ...stateAfter(),
      all_answered: false,
    });
    const b = await oneEvent(() =>
      consumer.post(`/complaints/${id}/followups/${second.followup_id}/answer`, { answer: 'Yes' }),
    );
    expect(b.event.body.data).toMatchObject({ all_answered: true });
    expect(b.data.all_answered).toBe(true);
  });

  it('action.drafted carries the action and draft ids; action.filed the draft id', async () => {
    const drafted = await oneEvent(
      () =>
        consumer.post(`/complaints/${id}/actions`, { kind: 'ombudsman', body: 'Formal complaint to the ombudsman' }),
      201,
    );
    expect(drafted.event.name).toBe('action.drafted');
    expect(drafted.event.body.data).toMatchObject({
      ...stateAfter(),
      action_id: drafted.data.action_id,
      draft_id: drafted.data.draft_id,
    });

    // A second draft of the same kind is a new draft of the same action.
    const redraft = await oneEvent(
      () => consumer.post(`/complaints/${id}/actions`, { kind: 'ombudsman', body: 'Second version' }),
      201,
    );
    expect(redraft.data.action_id).toBe(drafted.data.action_id);
    expect(redraft.data.draft_id).not.toBe(drafted.data.draft_id);

    const filed = await oneEvent(() => consumer.post(`/complaints/${id}/actions/${drafted.data.draft_id}/file`));
    expect(filed.event.name).toBe('action.filed');
    expect(filed.event.body.data).toMatchObject({
      ...stateAfter(),
      draft_id: drafted.data.draft_id,
    });
  });

  it('social.posted carries the draft id; drafting a post is private and emits nothing', async () => {
    const before = (await eventsOf(t.store.db)).length;
    const draft = okData(
      await consumer.post(`/complaints/${id}/social`, { platform: 'x', body: 'Still no fridge' }),
      201,
    );
    expect((await eventsOf(t.store.db)).length).toBe(before);
    const { event } = await oneEvent(() => consumer.post(`/complaints/${id}/social/${draft.draft_id}/posted`));
    expect(event.name).toBe('social.posted');
    expect(event.body.data).toMatchObject({
      ...stateAfter(),
      draft_id: draft.draft_id,
    });
  });

  it('staff replies, offers and follow-up questions are records, not events', async () => {
    const before = (await eventsOf(t.store.db)).length;
    okData(await staff.post(`/complaints/${id}/messages`, { body: 'We are on it' }), 201);
    okData(await staff.post(`/complaints/${id}/settlements`, { amount: 100, currency: 'INR', terms: 'Voucher' }), 201);
    okData(await staff.post(`/complaints/${id}/followups`, { question: 'Model number?' }), 201);
    expect((await eventsOf(t.store.db)).length).toBe(before);
    const messages = await t.store.db.selectFrom('messages').select(['author_kind', 'author', 'directed_to']).execute();
    expect(messages).toEqual([{ author_kind: 'staff', author: 'api-key:admin', directed_to: 'consumer' }]);
  });
});
