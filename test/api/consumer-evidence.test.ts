import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import {
  call,
  consumerApi,
  countEvents,
  expectError,
  fileComplaint,
  okData,
  seedCompany,
  snapshot,
  type Tenant,
} from '../domain/complaint-fixtures.js';
import { bearer } from '../helpers/harness.js';

const MiB = 1024 * 1024;

/** Evidence: base64 in, bytes stored with size and sha256, at most 5 MiB, served back inert. */
describe('Consumer API: evidence', () => {
  let t: TestApp;
  let tenant: Tenant;
  let id: string;
  let consumer: ReturnType<typeof consumerApi>;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    consumer = consumerApi(t, tenant.consumerToken);
    id = await fileComplaint(t, tenant.consumerToken);
  });
  afterAll(async () => t.close());

  const upload = (content_base64: string, file_name = 'photo.jpg', content_type = 'image/jpeg') =>
    consumer.post(`/complaints/${id}/evidence`, { file_name, content_type, content_base64 });

  it('stores the bytes with their size and sha256, and lists metadata without the bytes', async () => {
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3, 250]);
    const data = okData(await upload(bytes.toString('base64')), 201);
    expect(data).toEqual({
      evidence_id: expect.stringMatching(/^evd_/),
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    const list = okData(await consumer.get(`/complaints/${id}/evidence`));
    expect(list).toContainEqual({
      id: data.evidence_id,
      file_name: 'photo.jpg',
      content_type: 'image/jpeg',
      size: bytes.length,
      sha256: data.sha256,
      created_at: expect.any(String),
    });
    const content = await t.app.http.inject({
      method: 'GET',
      url: `/api/consumer/v1/complaints/${id}/evidence/${data.evidence_id}/content`,
      headers: bearer(tenant.consumerToken),
    });
    expect(content.statusCode).toBe(200);
    expect(content.rawPayload.equals(bytes)).toBe(true);
    expect(content.headers['content-type']).toBe('image/jpeg');
    expect(content.headers['x-content-type-options']).toBe('nosniff');
    expect(content.headers.etag).toBe(`"${data.sha256}"`);
  });

  it('serves anything a browser could run as an attachment of no particular type', async () => {
    const html = Buffer.from('<script>alert(1)</script>');
    const data = okData(await upload(html.toString('base64'), 'évidence "1".html', 'text/html'), 201);
    const content = await t.app.http.inject({
      method: 'GET',
      url: `/api/consumer/v1/complaints/${id}/evidence/${data.evidence_id}/content`,
      headers: bearer(tenant.consumerToken),
    });
    expect(content.headers['content-type']).toBe('application/octet-stream');
    expect(content.headers['content-disposition']).toBe(
      `attachment; filename="_vidence _1_.html"; filename*=UTF-8''${encodeURIComponent('évidence "1".html')}`,
    );
    expect(content.headers['content-security-policy']).toContain('sandbox');
  });

  it('accepts exactly 5 MiB', async () => {
    const bytes = Buffer.alloc(5 * MiB, 7);
    const data = okData(await upload(bytes.toString('base64'), 'big.bin', 'application/octet-stream'), 201);
    expect(data.size).toBe(5 * MiB);
    const row = await t.store.db
      .selectFrom('evidence')
      .select(['size', 'content'])
      .where('id', '=', data.evidence_id)
      .executeTakeFirstOrThrow();
    expect(Number(row.size)).toBe(5 * MiB);
    expect(Buffer.from(row.content).equals(bytes)).toBe(true);
  });

  it('refuses bad base64, empty content, over 5 MiB and an oversized body, writing nothing', async () => {
    const before = await snapshot(t.store.db);
    const events = await countEvents(t.store.db);
    for (const bad of ['!!!!', 'aGk', 'aGk=\n', 'a GQ=', 'aGk===', 'aGk=aGk=', 'data:image/png;base64,aGk=']) {
      const r = await upload(bad);
      expect({ bad, status: r.status, code: r.body.error?.code }).toEqual({
        bad,
        status: 400,
        code: 'validation_failed',
      });
    }
    expectError(await upload(''), 400, 'validation_failed');
    expectError(await upload('===='), 400, 'validation_failed');
    expectError(await upload(Buffer.alloc(5 * MiB + 1, 1).toString('base64')), 413, 'payload_too_large');
    const oversized = await call(t, {
      method: 'POST',
      url: `/api/consumer/v1/complaints/${id}/evidence`,
      headers: { ...bearer(tenant.consumerToken), 'content-type': 'application/json' },
      payload: JSON.stringify({
        file_name: 'a.bin',
        content_type: 'application/octet-stream',
        content_base64: 'A'.repeat(8 * MiB),
      }),
    });
    expectError(oversized, 413, 'payload_too_large');
    expect(await countEvents(t.store.db)).toBe(events);
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it('keeps the 1 MiB limit on every other route', async () => {
    const r = await consumer.post(`/complaints/${id}/messages`, { body: 'x'.repeat(MiB + 1) });
    expectError(r, 413, 'payload_too_large');
  });
});
