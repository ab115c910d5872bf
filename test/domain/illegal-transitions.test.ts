import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import {
  consumerApi,
  expectError,
  fileComplaint,
  okData,
  seedCompany,
  snapshot,
  staffApi,
  type Answer,
} from './complaint-fixtures.js';

/** Every refused step answers 409 with a stable code and writes nothing: no change, no record, no event. */
describe('illegal transitions are refused with 409 and write nothing', () => {
  let t: TestApp;
  let id: string;
  let consumer: ReturnType<typeof consumerApi>;
  let staff: ReturnType<typeof staffApi>;

  beforeEach(async () => {
    t = await createTestApp();
    const tenant = await seedCompany(t);
    consumer = consumerApi(t, tenant.consumerToken);
    staff = staffApi(t, tenant.adminKey);
    id = await fileComplaint(t, tenant.consumerToken);
  });
  afterEach(async () => t.close());

  async function refused(run: () => Promise<Answer>, code = 'invalid_transition'): Promise<void> {
    const before = await snapshot(t.store.db);
    expectError(await run(), 409, code);
    expect(await snapshot(t.store.db)).toEqual(before);
  }

  const resolveIt = async () => okData(await consumer.post(`/complaints/${id}/resolve`, { resolution_type: 'refund' }));
  const withdrawIt = async () =>
    okData(await consumer.post(`/complaints/${id}/withdraw`, { reason_code: 'changed_mind' }));

  it('escalating a resolved complaint', async () => {
    await resolveIt();
    await refused(() => consumer.post(`/complaints/${id}/escalate`));
  });

  it('escalating a withdrawn complaint', async () => {
    await withdrawIt();
    await refused(() => consumer.post(`/complaints/${id}/escalate`));
  });

  it('escalating past L9', async () => {
    for (let level = 2; level <= 9; level++)
      expect(okData(await consumer.post(`/complaints/${id}/escalate`)).escalation_level).toBe(`L${level}`);
    await refused(() => consumer.post(`/complaints/${id}/escalate`));
  });

  it('claiming a withdrawn, a claimed or a completed complaint', async () => {
    okData(await staff.post(`/complaints/${id}/claim`));
    await refused(() => staff.post(`/complaints/${id}/claim`), 'already_claimed');
    okData(await staff.post(`/complaints/${id}/complete`, { resolution_notes: 'done' }));
    await refused(() => staff.post(`/complaints/${id}/claim`), 'already_completed');
    await withdrawIt();
    await refused(() => staff.post(`/complaints/${id}/claim`));
  });

  it('releasing an unclaimed complaint', async () => {
    await refused(() => staff.post(`/complaints/${id}/release`), 'not_claimed');
    okData(await staff.post(`/complaints/${id}/claim`));
    okData(await staff.post(`/complaints/${id}/release`));
    await refused(() => staff.post(`/complaints/${id}/release`), 'not_claimed');
  });

  it('completing an unclaimed complaint, or a released one', async () => {
    await refused(() => staff.post(`/complaints/${id}/complete`, { resolution_notes: 'done' }), 'not_claimed');
    okData(await staff.post(`/complaints/${id}/claim`));
    okData(await staff.post(`/complaints/${id}/release`));
    await refused(() => staff.post(`/complaints/${id}/complete`, { resolution_notes: 'done' }), 'not_claimed');
  });

  it('releasing or completing a completed complaint, until the consumer escalates it', async () => {
    okData(await staff.post(`/complaints/${id}/claim`));
    okData(await staff.post(`/complaints/${id}/complete`, { resolution_notes: 'done' }));
    await refused(() => staff.post(`/complaints/${id}/release`), 'already_completed');
    await refused(() => staff.post(`/complaints/${id}/complete`, { resolution_notes: 'again' }), 'already_completed');
    // The consumer disagrees: the staff side reopens at the next level, still claimed.
    okData(await consumer.post(`/complaints/${id}/escalate`));
    okData(await staff.post(`/complaints/${id}/complete`, { resolution_notes: 'done properly' }));
    await resolveIt();
    await refused(() => staff.post(`/complaints/${id}/release`));
    await refused(() => staff.post(`/complaints/${id}/complete`, { resolution_notes: 'again' }));
  });

  it('resolving or withdrawing twice, or one after the other', async () => {
    await resolveIt();
    await refused(() => consumer.post(`/complaints/${id}/resolve`, { resolution_type: 'refund' }));
    await refused(() => consumer.post(`/complaints/${id}/withdraw`, { reason_code: 'x' }));
  });

  it('withdrawing twice', async () => {
    await withdrawIt();
    await refused(() => consumer.post(`/complaints/${id}/withdraw`, { reason_code: 'x' }));
    await refused(() => consumer.post(`/complaints/${id}/resolve`, { resolution_type: 'refund' }));
  });

  it('every other step on a closed complaint', async () => {
    const offer = okData(
      await staff.post(`/complaints/${id}/settlements`, { amount: 1, currency: 'INR', terms: 't' }),
      201,
    );
    const followup = okData(await staff.post(`/complaints/${id}/followups`, { question: 'q' }), 201);
    const draft = okData(await consumer.post(`/complaints/${id}/actions`, { kind: 'notice', body: 'b' }), 201);
    await withdrawIt();
    await refused(() =>
      consumer.post(`/complaints/${id}/delegate`, { to_email: 'bob@example.test', immediate_transfer: false }),
    );
    await refused(() => consumer.post(`/complaints/${id}/messages`, { body: 'hello?' }));
    await refused(() =>
      consumer.post(`/complaints/${id}/evidence`, {
        file_name: 'a.txt',
        content_type: 'text/plain',
        content_base64: 'aGk=',
      }),
    );
    await refused(() => consumer.post(`/complaints/${id}/settlements/${offer.offer_id}/respond`, { action: 'accept' }));
    await refused(() => consumer.post(`/complaints/${id}/followups/${followup.followup_id}/answer`, { answer: 'a' }));
    await refused(() => consumer.post(`/complaints/${id}/actions`, { kind: 'notice', body: 'b' }));
    await refused(() => consumer.post(`/complaints/${id}/actions/${draft.draft_id}/file`));
    await refused(() => consumer.post(`/complaints/${id}/social`, { platform: 'x', body: 'b' }));
    await refused(() => staff.post(`/complaints/${id}/messages`, { body: 'hi' }));
    await refused(() => staff.post(`/complaints/${id}/settlements`, { amount: 1, currency: 'INR', terms: 't' }));
    await refused(() => staff.post(`/complaints/${id}/followups`, { question: 'q' }));
  });

  it('responding to an offer that was already answered', async () => {
    const offer = okData(
      await staff.post(`/complaints/${id}/settlements`, { amount: 1, currency: 'INR', terms: 't' }),
      201,
    );
    okData(await consumer.post(`/complaints/${id}/settlements/${offer.offer_id}/respond`, { action: 'reject' }));
    for (const action of ['accept', 'reject'])
      await refused(() => consumer.post(`/complaints/${id}/settlements/${offer.offer_id}/respond`, { action }));
    await refused(() =>
      consumer.post(`/complaints/${id}/settlements/${offer.offer_id}/respond`, {
        action: 'counter',
        counter_amount: 5,
      }),
    );
  });

  it('answering a follow-up twice', async () => {
    const followup = okData(await staff.post(`/complaints/${id}/followups`, { question: 'q' }), 201);
    okData(await consumer.post(`/complaints/${id}/followups/${followup.followup_id}/answer`, { answer: 'first' }));
    await refused(() =>
      consumer.post(`/complaints/${id}/followups/${followup.followup_id}/answer`, { answer: 'second' }),
    );
  });

  it('filing a filed action draft', async () => {
    const draft = okData(await consumer.post(`/complaints/${id}/actions`, { kind: 'notice', body: 'b' }), 201);
    okData(await consumer.post(`/complaints/${id}/actions/${draft.draft_id}/file`));
    await refused(() => consumer.post(`/complaints/${id}/actions/${draft.draft_id}/file`));
  });

  it('posting a posted social draft', async () => {
    const draft = okData(await consumer.post(`/complaints/${id}/social`, { platform: 'x', body: 'b' }), 201);
    okData(await consumer.post(`/complaints/${id}/social/${draft.draft_id}/posted`));
    await refused(() => consumer.post(`/complaints/${id}/social/${draft.draft_id}/posted`));
  });
});
