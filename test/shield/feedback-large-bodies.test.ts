import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, DEFAULT_COMPANY_LIMITS, seedTenant, type TestApp } from '../helpers/harness.js';
import { AppError } from '../../src/errors.js';
import { storeFeedback } from '../../src/shield/feedback.js';
import { checkFeedbackBody } from '../../src/shield/feedback-body.js';
import { FeedbackBodyReader, INLINE_BODY_BYTES } from '../../src/shield/feedback-body-reader.js';
import { COMPANY_LARGE_BODIES, FeedbackUploads } from '../../src/api/feedback-uploads.js';
import { ManualClock } from '../../src/clock.js';
import { EventEmitter } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
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

  it('hands a large body to its thread, and reads a small one on the event loop', async () => {
    const bodies = [batchBytes(20, 'a'), batchBytes(20, 'b')];
    const read = await Promise.all(bodies.map((body) => reader.read(body)));
    expect(read.map((body) => body.valid.length)).toEqual([20, 20]);
    // Handed over, not copied: the bytes now belong to the thread.
    expect(bodies.map((body) => body.byteLength)).toEqual([0, 0]);
    const small = Buffer.from(JSON.stringify(record('s', 'Fine.')));
    expect((await reader.read(small)).valid.map((r) => r.recordId)).toEqual(['s']);
    expect(small.byteLength).toBeGreaterThan(0);
  });

  it('copies a slice of a shared buffer instead of taking the buffer', async () => {
    const shared = Buffer.concat([Buffer.from('xx'), batchBytes(20)]);
    expect((await reader.read(shared.subarray(2))).valid).toHaveLength(20);
    expect(shared.byteLength).toBeGreaterThan(INLINE_BODY_BYTES);
  });

  it('gives the refusal made in the thread as the same typed error', async () => {
    const err = await reader.read(Buffer.from(`[${batchBytes(20).toString()}]`)).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'invalid_request', status: 400 });
  });
});

describe("a company's feedback uploads", () => {
  const clock = new ManualClock(1_000_000);
  const request = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;
  const reply = () => {
    const raw = new EventEmitter();
    return { reply: { raw } as unknown as FastifyReply, answered: () => raw.emit('close') };
  };

  it('holds two large bodies of a company at once from headers to answer, and refuses a third before reading it', () => {
    const uploads = new FeedbackUploads({ largeBytes: 1000, bytesPerMin: 0, clock });
    const first = reply();
    const second = reply();
    uploads.admit('a', request({ 'content-length': '5000' }), first.reply);
    // A body of unannounced length (chunked) may be as large as any: it takes a place too.
    uploads.admit('a', request({}), second.reply);
    const refuse = () => uploads.admit('a', request({ 'content-length': '5000' }), reply().reply);
    expect(refuse).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        details: expect.objectContaining({ limit: COMPANY_LARGE_BODIES, per: 'feedback_bodies', retry_after: 1 }),
      }),
    );
    // Small bodies, and other companies, are not held back.
    uploads.admit('a', request({ 'content-length': '900' }), reply().reply);
    uploads.admit('b', request({ 'content-length': '5000' }), reply().reply);
    // An answer (or a connection's end) frees its place.
    first.answered();
    uploads.admit('a', request({ 'content-length': '5000' }), reply().reply);
    expect(refuse).toThrow(expect.objectContaining({ code: 'rate_limited' }));
  });

  it('counts body bytes a minute, announced before the body and the rest once it has arrived', () => {
    const uploads = new FeedbackUploads({ largeBytes: 1_000_000, bytesPerMin: 10_000, clock });
    uploads.admit('a', request({ 'content-length': '6000' }), reply().reply);
    uploads.takeUnannounced('a', request({}), 3000);
    // Announced, the body's bytes were counted when it was admitted: not twice.
    uploads.takeUnannounced('a', request({ 'content-length': '6000' }), 6000);
    clock.advance(20_000);
    const over = () => uploads.admit('a', request({ 'content-length': '1001' }), reply().reply);
    expect(over).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        details: { limit: 10_000, used: 9000, per: 'feedback_bytes', retry_after: 40 },
      }),
    );
    uploads.admit('b', request({ 'content-length': '10000' }), reply().reply);
    uploads.admit('a', request({ 'content-length': '1000' }), reply().reply);
    clock.advance(40_000);
    uploads.admit('a', request({ 'content-length': '10000' }), reply().reply);
  });
});

describe('feedback body bytes a minute, through the route', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  beforeEach(async () => {
    // 1,000 records a minute: one full batch's bytes (24 MB) a minute.
    t = await createTestApp({ config: { companyLimits: { ...DEFAULT_COMPANY_LIMITS, feedbackPerMin: 1000 } } });
    tenant = await seedTenant(t);
  });
  afterEach(async () => t.close());

  it('refuses a company resending a stored batch once its bytes are spent, though no record counts', async () => {
    const body = batchBytes(250);
    const post = () =>
      t.app.http.inject({
        method: 'POST',
        url: '/api/v1/feedback',
        headers: { ...bearer(tenant.adminKey), 'content-type': 'application/json' },
        payload: body,
      });
    const first = await post();
    expect(first.json().data).toMatchObject({ accepted: 250, duplicates: 0 });
    let resent = 0;
    let refused = null;
    while (!refused && resent < 10) {
      const res = await post();
      if (res.statusCode === 429) refused = res;
      else {
        expect(res.json().data).toMatchObject({ accepted: 0, duplicates: 250 });
        resent++;
      }
    }
    // 24 MB a minute holds four bodies of 5 MB; the fifth is refused before it is read.
    expect(body.byteLength).toBeGreaterThan(5_000_000);
    expect(resent).toBe(Math.floor((24 * 1024 * 1024) / body.byteLength) - 1);
    expect(refused!.json().error).toMatchObject({ code: 'rate_limited', details: { per: 'feedback_bytes' } });
    expect(Number(refused!.headers['retry-after'])).toBe(60);
    t.clock.advance(60_000);
    expect((await post()).statusCode).toBe(202);
  });
});
