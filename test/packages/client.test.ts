import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEscalatrClient, type EscalatrClient } from '@escalatr/client';
import { CLIENT_SCHEMA_FILE, renderClientSchema } from '../../scripts/api-client.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';

describe('@escalatr/client', () => {
  it('is generated from the server’s OpenAPI document and up to date (run `npm run api-client` after an API change)', async () => {
    const expected = await renderClientSchema();
    expect(expected).toContain("'/api/v1/complaints/{id}': {");
    expect(readFileSync(CLIENT_SCHEMA_FILE, 'utf8')).toBe(expected);
  });

  describe('against a listening server', () => {
    let t: TestApp;
    let volt: Awaited<ReturnType<typeof seedTenant>>;
    let acme: Awaited<ReturnType<typeof seedTenant>>;
    let api: EscalatrClient;
    let baseUrl: string;
    let escalatrId: string;

    beforeAll(async () => {
      t = await createTestApp();
      volt = await seedTenant(t, { code: 'VOLT' });
      acme = await seedTenant(t, { code: 'ACME' });
      await t.app.http.listen({ port: 0, host: '127.0.0.1' });
      baseUrl = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
      api = createEscalatrClient({ baseUrl, apiKey: volt.adminKey });
      const filed = await t.app.http.inject({
        method: 'POST',
        url: '/api/consumer/v1/complaints',
        headers: bearer(volt.consumerToken),
        payload: { company_code: 'VOLT', complaint_category: 'Banking', title: 'Card blocked', description: 'Twice' },
      });
      escalatrId = filed.json().data.escalatr_id;
    });
    afterAll(async () => t.close());

    it('lists and reads complaints with typed answers', async () => {
      const list = await api.GET('/api/v1/complaints', { params: { query: { limit: 10, status: 'Open' } } });
      expect(list.response.status).toBe(200);
      expect(list.data?.total).toBe(1);
      expect(list.data?.data[0].escalatr_id).toBe(escalatrId);

      const detail = await api.GET('/api/v1/complaints/{id}', { params: { path: { id: escalatrId } } });
      expect(detail.data?.data.escalatr_id).toBe(escalatrId);
      expect(detail.data?.data.status).toBe('Open');
    });

    it('reads a list through with typed cursors, to the same complaints as the page-number list', async () => {
      for (const title of ['Second', 'Third'])
        await t.app.http.inject({
          method: 'POST',
          url: '/api/consumer/v1/complaints',
          headers: bearer(acme.consumerToken),
          payload: { company_code: 'ACME', complaint_category: 'Banking', title, description: 'Again' },
        });
      const acmeApi = createEscalatrClient({ baseUrl, apiKey: acme.readKey });
      const whole = await acmeApi.GET('/api/v1/complaints', { params: { query: { limit: 100 } } });
      const pageAfter = (cursor: string) =>
        acmeApi.GET('/api/v1/complaints', { params: { query: { limit: 1, cursor } } });
      const read: string[] = [];
      for (let cursor: string | null | undefined = 'start'; cursor;) {
        const { data, response } = await pageAfter(cursor);
        expect(response.status).toBe(200);
        read.push(...data!.data.map((c) => c.escalatr_id));
        cursor = data!.next_cursor;
      }
      expect(read.length).toBeGreaterThanOrEqual(2);
      expect(read).toEqual(whole.data!.data.map((c) => c.escalatr_id));
      const bad = await acmeApi.GET('/api/v1/complaints', { params: { query: { cursor: 'start', page: 2 } } });
      expect(bad.error?.error.code).toBe('invalid_query');
    });

    it('works a complaint and a webhook endpoint through the API', async () => {
      const claimed = await api.POST('/api/v1/complaints/{id}/claim', { params: { path: { id: escalatrId } } });
      expect(claimed.response.status).toBe(200);
      const again = await api.POST('/api/v1/complaints/{id}/claim', { params: { path: { id: escalatrId } } });
      expect(again.response.status).toBe(409);
      expect(again.error?.error.code).toBe('already_claimed');

      const created = await api.POST('/api/v1/webhooks', {
        body: { url: 'http://127.0.0.1:9/hooks', events: ['complaint.claimed'] },
      });
      expect(created.response.status).toBe(201);
      expect(created.data?.data.secret).toMatch(/^whsec_/);
      const endpoints = await api.GET('/api/v1/webhooks');
      expect(endpoints.data?.data.map((e) => e.id)).toContain(created.data?.data.id);

      const feed = await api.GET('/api/v1/events', {
        params: { query: { after: 'start', event: 'complaint.claimed' } },
      });
      expect(feed.data?.data.map((e) => e.event)).toEqual(['complaint.claimed']);
    });

    it('returns the documented error envelope for bad input, other tenants’ ids and missing credentials', async () => {
      const bad = await api.POST('/api/v1/webhooks', { body: { url: 'not a url', events: [] } as never });
      expect(bad.response.status).toBe(400);
      expect(bad.error?.success).toBe(false);
      expect(typeof bad.error?.error.code).toBe('string');

      const otherTenant = createEscalatrClient({ baseUrl, apiKey: acme.adminKey });
      const hidden = await otherTenant.GET('/api/v1/complaints/{id}', { params: { path: { id: escalatrId } } });
      expect(hidden.response.status).toBe(404);

      const anonymous = createEscalatrClient({ baseUrl });
      const refused = await anonymous.GET('/api/v1/complaints');
      expect(refused.response.status).toBe(401);
      expect(refused.error?.error.code).toBeTruthy();
    });

    it('refuses to be made without a server address', () => {
      expect(() => createEscalatrClient({ baseUrl: '' })).toThrow(TypeError);
    });
  });
});
