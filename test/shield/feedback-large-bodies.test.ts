import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { AppError } from '../../src/errors.js';
import { storeFeedback } from '../../src/shield/feedback.js';
import { checkFeedbackBody } from '../../src/shield/feedback-body.js';
import {
  COMPANY_BODIES_READING,
  FeedbackBodyReader,
  INLINE_BODY_BYTES,
} from '../../src/shield/feedback-body-reader.js';
import { postFeedback, record } from './shield-helpers.js';

const LONG = 'The parcel arrived broken and support keeps ignoring me. '.repeat(350).slice(0, 20_000);

/** A batch of `n` long records, as the bytes a client sends. */
const batchBytes = (n: number, prefix = 'r') =>
  Buffer.from(JSON.stringify({ records: Array.from({ length: n }, (_, i) => record(`${prefix}-${i}`, LONG)) }));

describe('large feedback bodies', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  beforeEach(async () => {
    t = await createTestApp();
    tenant = await seedTenant(t);
  });
  afterEach(async () => t.close());

  const post = (payload: string | Buffer) =>
    t.app.http.inject({
      method: 'POST',
      url: '/api/v1/feedback',
      headers: { ...bearer(tenant.adminKey), 'content-type': 'application/json' },
      payload,
    });
  const stored = () =>
    t.store.db
      .selectFrom('feedback_records')
      .select(['record_id', 'received_at'])
      .where('company_id', '=', tenant.company.id)
      .orderBy('id')
      .execute();

  it('reads a body larger than the inline limit as a small one is read: stored, invalid records reported', async () => {
    const records: unknown[] = Array.from({ length: 30 }, (_, i) => record(`big-${i}`, LONG));
    records[3] = { id: 'no-content', source: 'Z' };
    records[7] = { ...record('x', LONG), content: 'nul \u0000 here' };
    const body = JSON.stringify({ records });
    expect(body.length).toBeGreaterThan(INLINE_BODY_BYTES);
    const res = await post(body);
    expect(res.statusCode).toBe(202);
    expect(res.json().data).toMatchObject({ accepted: 28, duplicates: 0 });
    expect(res.json().data.invalid.map((p: { index: number; field: string }) => [p.index, p.field])).toEqual([
      [3, 'content'],
      [7, 'content'],
    ]);
    expect(await stored()).toHaveLength(28);
  });

  it('refuses a large body that is not JSON, poisons a prototype, or is not a record, storing nothing', async () => {
    const big = batchBytes(20).toString();
    const cases: Array<[string, string]> = [
      [big.slice(0, -1), 'invalid_json'],
      [`{"__proto__":{"x":1},${big.slice(1)}`, 'invalid_json'],
      [`[${big}]`, 'invalid_request'],
      [JSON.stringify({ id: 'one', source: 'Z', content: 'y'.repeat(INLINE_BODY_BYTES) }), 'validation_failed'],
    ];
    for (const [payload, code] of cases) {
      expect(payload.length).toBeGreaterThan(INLINE_BODY_BYTES);
      const res = await post(payload);
      expect(res.statusCode, code).toBe(400);
      expect(res.json()).toMatchObject({ success: false, error: { code } });
    }
    expect(await stored()).toEqual([]);
  });

  it('stores a batch in the order it was sent, with one arrival time, however many transactions it takes', async () => {
    const records = Array.from({ length: 250 }, (_, i) => record(`o-${i}`, `Order ${i} is late.`));
    expect((await postFeedback(t, tenant.adminKey, { records })).statusCode).toBe(202);
    const rows = await stored();
    expect(rows.map((r) => r.record_id)).toEqual(records.map((r) => r.id));
    expect(new Set(rows.map((r) => r.received_at)).size).toBe(1);
  });

  it('lets the event loop run while a large batch is stored on SQLite', async () => {
    const body = checkFeedbackBody({ records: Array.from({ length: 300 }, (_, i) => record(`l-${i}`, LONG)) });
    const order: string[] = [];
    const storing = storeFeedback(t.app.ctx, tenant.company.id, body.valid).then(() => order.push('stored'));
    setImmediate(() => order.push('event loop'));
    await storing;
    // PostgreSQL's statements run in its server: the event loop runs between them anyway.
    expect(order).toEqual(['event loop', 'stored']);
    expect(await stored()).toHaveLength(300);
  });

  it('counts a batch being stored against the rate, so two at once cannot pass it together', async () => {
    const batch = (prefix: string) =>
      checkFeedbackBody({ records: Array.from({ length: 250 }, (_, i) => record(`${prefix}-${i}`, `Late ${i}.`)) });
    const outcomes = await Promise.allSettled([
      storeFeedback(t.app.ctx, tenant.company.id, batch('a').valid, { perMinute: 400 }),
      storeFeedback(t.app.ctx, tenant.company.id, batch('b').valid, { perMinute: 400 }),
    ]);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: { accepted: 250, duplicates: 0 } });
    expect(outcomes[1].status).toBe('rejected');
    const refusal = (outcomes[1] as PromiseRejectedResult).reason as AppError;
    expect(refusal.code).toBe('feedback_rate_limited');
    expect(refusal.details).toMatchObject({ limit: 400, used: 250, batch: 250 });
    expect(await stored()).toHaveLength(250);
    // Once stored, the reservation is gone: the count is the stored rows alone.
    const next = await storeFeedback(t.app.ctx, tenant.company.id, batch('c').valid.slice(0, 150), {
      perMinute: 400,
    });
    expect(next.accepted).toBe(150);
  });
});

describe('the feedback body reader', () => {
  const reader = new FeedbackBodyReader();
  afterAll(async () => reader.close());

  it('hands a large body to its thread, and refuses a company its third at once while others go on', async () => {
    const bodies = [batchBytes(20, 'a'), batchBytes(20, 'b'), batchBytes(20, 'c'), batchBytes(20, 'd')];
    const reads = [
      reader.read('company-a', bodies[0]),
      reader.read('company-a', bodies[1]),
      reader.read('company-a', bodies[2]),
      reader.read('company-b', bodies[3]),
    ];
    const [first, second, third, other] = await Promise.allSettled(reads);
    expect(COMPANY_BODIES_READING).toBe(2);
    expect(third).toMatchObject({ status: 'rejected', reason: { code: 'rate_limited', details: { limit: 2 } } });
    for (const read of [first, second, other]) {
      expect(read.status).toBe('fulfilled');
      expect((read as PromiseFulfilledResult<{ valid: unknown[] }>).value.valid).toHaveLength(20);
    }
    // Handed over, not copied: the bytes now belong to the thread.
    expect(bodies[0].byteLength).toBe(0);
    expect(bodies[3].byteLength).toBe(0);
    // A read that ended frees its place.
    expect((await reader.read('company-a', batchBytes(20, 'e'))).valid).toHaveLength(20);
  });

  it('reads a small body on the event loop, and a slice of a shared buffer by copying it', async () => {
    const small = Buffer.from(JSON.stringify(record('s', 'Fine.')));
    expect((await reader.read('company-a', small)).valid.map((r) => r.recordId)).toEqual(['s']);
    expect(small.byteLength).toBeGreaterThan(0);
    const shared = Buffer.concat([Buffer.from('xx'), batchBytes(20)]);
    const slice = shared.subarray(2);
    expect((await reader.read('company-a', slice)).valid).toHaveLength(20);
    expect(shared.byteLength).toBeGreaterThan(INLINE_BODY_BYTES);
  });

  it('gives the refusal made in the thread as the same typed error', async () => {
    const err = await reader.read('company-a', Buffer.from(`[${batchBytes(20).toString()}]`)).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'invalid_request', status: 400 });
  });
});
