import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACTION_WAIT_S, DEFAULT_SLA_WINDOWS_S } from '../../src/domain/sla.js';
import { bearer, type TestApp } from '../helpers/harness.js';
import {
  call,
  consumerApi,
  expectError,
  fileComplaint,
  okData,
  snapshot,
  staffApi,
  type Tenant,
  twoCompanies,
  type StaffApi,
} from '../domain/complaint-fixtures.js';

/** GET/PUT /api/v1/settings/sla: the company's response window per level and its action wait. */
describe('Platform API: SLA settings', () => {
  let t: TestApp, tenant: Tenant, acme: Tenant, admin: StaffApi;

  beforeAll(async () => {
    ({ t, tenant, acme, admin } = await twoCompanies());
  });
  afterAll(async () => t.close());

  it('is served (settingsRoutes is registered under /api/v1 in src/api/routes.ts)', () => {
    expect(t.app.http.hasRoute({ method: 'GET', url: '/api/v1/settings/sla' })).toBe(true);
  });

  it('shows the defaults to any key until the company sets its own', async () => {
    const data = okData(await staffApi(t, tenant.readKey).get('/settings/sla'));
    expect(data).toEqual({
      windows: DEFAULT_SLA_WINDOWS_S,
      action_wait_s: DEFAULT_ACTION_WAIT_S,
      defaults: { windows: DEFAULT_SLA_WINDOWS_S, action_wait_s: DEFAULT_ACTION_WAIT_S },
    });
    expect(Object.keys(data.windows)).toEqual(['L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'L7', 'L8', 'L9']);
  });

  it('replaces the overrides; left-out levels use the defaults; other companies are untouched', async () => {
    const data = okData(await admin.put('/settings/sla', { windows: { L1: 600, L3: 7200 }, action_wait_s: 1800 }));
    expect(data.windows).toEqual({ ...DEFAULT_SLA_WINDOWS_S, L1: 600, L3: 7200 });
    expect(data.action_wait_s).toBe(1800);
    expect(okData(await admin.get('/settings/sla'))).toEqual(data);
    expect(okData(await staffApi(t, acme.readKey).get('/settings/sla')).windows).toEqual(DEFAULT_SLA_WINDOWS_S);

    const reset = okData(await admin.put('/settings/sla', { windows: {} }));
    expect(reset).toMatchObject({ windows: DEFAULT_SLA_WINDOWS_S, action_wait_s: DEFAULT_ACTION_WAIT_S });
  });

  it('new windows apply to complaints filed after the change, and the scheduler keeps to them', async () => {
    okData(await admin.put('/settings/sla', { windows: { L1: 600, L2: 900 }, action_wait_s: 300 }));
    const id = await fileComplaint(t, tenant.consumerToken);
    const consumer = consumerApi(t, tenant.consumerToken);
    expect(okData(await consumer.get(`/complaints/${id}`)).sla_due_at).toBe(
      new Date(t.clock.now() + 600_000).toISOString(),
    );
    const draft = okData(await consumer.post(`/complaints/${id}/actions`, { kind: 'notice', body: 'b' }), 201);
    expect(okData(await consumer.get(`/complaints/${id}/actions`))[0]).toMatchObject({
      draft_id: draft.draft_id,
      respond_by: new Date(t.clock.now() + 300_000).toISOString(),
    });
    t.clock.advance(600_000);
    expect(await t.app.scheduler.tick()).toBe(2);
    expect(okData(await consumer.get(`/complaints/${id}`)).escalation_level).toBe('L3');
    okData(await admin.put('/settings/sla', { windows: {} }));
  });

  it('refuses bad bodies with 400 and writes nothing', async () => {
    const before = await snapshot(t.store.db);
    const bad: unknown[] = [
      {},
      { action_wait_s: 600 },
      { windows: [] },
      { windows: 'L1=600' },
      { windows: null },
      { windows: { L10: 600 } },
      { windows: { L0: 600 } },
      { windows: { l1: 600 } },
      { windows: { L1: 59 } },
      { windows: { L1: 90 * 24 * 3600 + 1 } },
      { windows: { L1: '600' } },
      { windows: { L1: 600.5 } },
      { windows: { L1: -600 } },
      { windows: { L1: null } },
      { windows: {}, action_wait_s: '600' },
      { windows: {}, action_wait_s: 1 },
      { windows: {}, extra: true },
      [],
    ];
    for (const body of bad) {
      const r = await admin.put('/settings/sla', body);
      expect({ body, status: r.status, code: r.body.error?.code }).toEqual({
        body,
        status: 400,
        code: 'validation_failed',
      });
    }
    const raw = (payload: string) =>
      call(t, {
        method: 'PUT',
        url: '/api/v1/settings/sla',
        headers: { ...bearer(tenant.adminKey), 'content-type': 'application/json' },
        payload,
      });
    expectError(await raw('{"windows":'), 400, 'invalid_json');
    expectError(await raw(JSON.stringify({ windows: {}, pad: 'x'.repeat(2 * 1024 * 1024) })), 413, 'payload_too_large');
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it('needs the admin scope to change, and a credential to read', async () => {
    const before = await snapshot(t.store.db);
    expectError(
      await staffApi(t, tenant.readKey).put('/settings/sla', { windows: { L1: 600 } }),
      403,
      'insufficient_scope',
    );
    expectError(
      await call(t, {
        method: 'PUT',
        url: '/api/v1/settings/sla',
        headers: { 'content-type': 'application/json' },
        payload: '{',
      }),
      401,
      'unauthorized',
    );
    expectError(await call(t, { method: 'GET', url: '/api/v1/settings/sla' }), 401, 'unauthorized');
    expectError(await staffApi(t, tenant.consumerToken).get('/settings/sla'), 401, 'unauthorized');
    expect(await snapshot(t.store.db)).toEqual(before);
  });
});
