import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/harness.js';
import { createEndpoint, HOOK_URL, setupWebhooks } from '../webhooks/endpoints-helpers.js';
import { createAutomationOk } from '../shield/shield-helpers.js';

type Setup = Awaited<ReturnType<typeof setupWebhooks>>;
const TOKEN = 'receiver-token-ORIGINAL-1234';

/**
 * A stored receiver credential never follows a URL to another scheme, host or port: such an edit must carry the
 * credential again (or drop it), else 400 `credentials_required` and nothing changes. Same-origin edits keep it,
 * however the origin is spelled.
 */
describe('a stored credential does not follow a URL to a new origin', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setupWebhooks();
  });
  afterEach(async () => s.t.close());

  const endpointRow = (id: string) =>
    s.t.store.db.selectFrom('endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const storedToken = async (id: string) => {
    const row = await endpointRow(id);
    return row.auth_enc ? s.t.app.ctx.box.openJson<{ token: string }>(row.auth_enc).token : null;
  };

  describe('webhook endpoints', () => {
    const moves: Array<[string, Record<string, unknown>]> = [
      ['another host', { url: 'https://collector.attacker.test/escalatr' }],
      ['another scheme', { url: 'http://hooks.example.com/escalatr' }],
      ['another port', { url: 'https://hooks.example.com:8443/escalatr' }],
      ['another host, auth without its token', { url: 'https://collector.attacker.test/x', auth: { type: 'bearer' } }],
      [
        'another host, a custom header renamed only',
        { url: 'https://collector.attacker.test/x', auth: { type: 'custom_header', header_name: 'X-Other' } },
      ],
    ];
    for (const [name, patch] of moves) {
      it(`${name}: 400 credentials_required, nothing changed`, async () => {
        const ep = await createEndpoint(s.api, { auth: { type: 'bearer', token: TOKEN } });
        const before = await endpointRow(ep.id);
        s.t.clock.advance(1000);
        const res = await s.api.patch(`/webhooks/${ep.id}`, { ...patch, description: 'moved' });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'credentials_required', details: { field: 'auth.token' } });
        expect(res.raw).not.toContain(TOKEN);
        expect(await endpointRow(ep.id)).toEqual(before);
      });
    }

    it('moves with the credential sent again, or with the credential dropped', async () => {
      const ep = await createEndpoint(s.api, { auth: { type: 'bearer', token: TOKEN } });
      const moved = await s.api.patch(`/webhooks/${ep.id}`, {
        url: 'https://new-home.example.org/in',
        auth: { type: 'bearer', token: 'receiver-token-NEW-5678' },
      });
      expect(moved.status).toBe(200);
      expect(await storedToken(ep.id)).toBe('receiver-token-NEW-5678');
      const dropped = await s.api.patch(`/webhooks/${ep.id}`, {
        url: 'https://third.example.org/in',
        auth: { type: 'none' },
      });
      expect(dropped.status).toBe(200);
      expect(dropped.body.data).toMatchObject({ has_token: false, auth: { type: 'none' } });
    });

    it('keeps the credential when the origin stays, however it is spelled', async () => {
      const ep = await createEndpoint(s.api, { auth: { type: 'bearer', token: TOKEN } });
      for (const url of ['https://hooks.example.com/other-path?x=1', 'HTTPS://HOOKS.Example.COM:443/escalatr']) {
        const res = await s.api.patch(`/webhooks/${ep.id}`, { url });
        expect(res.status).toBe(200);
        expect(res.body.data.has_token).toBe(true);
      }
      expect(await storedToken(ep.id)).toBe(TOKEN);
      // A unicode host and its punycode form are one origin.
      const idn = await createEndpoint(s.api, {
        url: 'https://bücher.example/in',
        auth: { type: 'bearer', token: TOKEN },
      });
      expect((await s.api.patch(`/webhooks/${idn.id}`, { url: 'https://xn--bcher-kva.example/v2' })).status).toBe(200);
      expect(await storedToken(idn.id)).toBe(TOKEN);
    });

    it('lets an endpoint without a credential move freely', async () => {
      const ep = await createEndpoint(s.api);
      const res = await s.api.patch(`/webhooks/${ep.id}`, { url: 'https://elsewhere.example.org/in' });
      expect(res.status).toBe(200);
      expect(ep.url).toBe(HOOK_URL);
    });
  });

  describe('Escalation Shield webhook destinations', () => {
    const automation = {
      name: 'Legal threats',
      filter: { min_level: 'high' },
      destinations: [
        { type: 'webhook', url: 'https://hooks.example.com/shield', auth: { type: 'bearer', token: TOKEN } },
      ],
    };
    const patch = (id: string, payload: unknown) =>
      s.t.app.http.inject({
        method: 'PATCH',
        url: `/api/v1/automations/${id}`,
        headers: bearer(s.volt.adminKey),
        payload: payload as object,
      });
    const destinationRows = () => s.t.store.db.selectFrom('destinations').selectAll().orderBy('id').execute();

    it('refuses a kept destination moved to another host without its credential, and changes nothing', async () => {
      const a = await createAutomationOk(s.t, s.volt.adminKey, automation);
      const dest = a.destinations[0];
      const before = await destinationRows();
      for (const url of ['https://collector.attacker.test/shield', 'https://hooks.example.com:444/shield']) {
        const res = await patch(a.id, { name: 'renamed', destinations: [{ id: dest.id, type: 'webhook', url }] });
        expect(res.statusCode).toBe(400);
        expect(res.json().error).toMatchObject({
          code: 'credentials_required',
          details: { field: 'destinations[0].auth.token' },
        });
      }
      expect(await destinationRows()).toEqual(before);
      const automationRow = await s.t.store.db
        .selectFrom('automations')
        .select('name')
        .where('id', '=', a.id)
        .executeTakeFirstOrThrow();
      expect(automationRow.name).toBe('Legal threats');
    });

    it('moves a destination when the credential comes with it, and keeps it on the same origin', async () => {
      const a = await createAutomationOk(s.t, s.volt.adminKey, automation);
      const dest = a.destinations[0];
      const same = await patch(a.id, {
        destinations: [{ id: dest.id, type: 'webhook', url: 'https://HOOKS.example.com/shield/v2' }],
      });
      expect(same.statusCode).toBe(200);
      expect(same.json().data.destinations[0].auth.has_token).toBe(true);
      const moved = await patch(a.id, {
        destinations: [
          {
            id: dest.id,
            type: 'webhook',
            url: 'https://new.example.org/in',
            auth: { type: 'bearer', token: 'NEW-token-99' },
          },
        ],
      });
      expect(moved.statusCode).toBe(200);
      const row = (await destinationRows())[0];
      expect(s.t.app.ctx.box.openJson<{ url: string; auth: { token: string } }>(row.config_enc)).toMatchObject({
        url: 'https://new.example.org/in',
        auth: { token: 'NEW-token-99' },
      });
    });
  });
});
