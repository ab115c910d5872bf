import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { LookupFn } from '../../src/webhooks/ssrf-guard.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';
import { testWorker } from '../helpers/webhooks.js';
import { tenant, type Tenant } from '../api/platform-fixtures.js';

/**
 * A failed attempt shows the tenant one fixed text per error kind — in the API and in what is stored — and never the
 * resolver's answer, an internal address or the OS error that names one. Otherwise a webhook URL is a way to resolve
 * names and map the network from inside.
 */
describe('attempt errors shown to tenants', () => {
  let t: TestApp;
  let volt: Tenant;
  let worker: RunningWorker | undefined;
  let closedPort: number;

  // The resolver's answers: one name refused on connect, one in a private range, one that does not resolve (with
  // an error text that names the resolver's address, as real ones can).
  const lookupFor = (): LookupFn => async (hostname) => {
    if (hostname === 'refused.example.test') return [{ address: '127.0.0.1', family: 4 }];
    if (hostname === 'internal.example.test') return [{ address: '10.20.30.40', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} via resolver 10.53.0.2`), {
      code: 'ENOTFOUND',
    });
  };

  beforeEach(async () => {
    t = await createTestApp({
      clock: new ManualClock(Date.now()),
      config: { allowHttpWebhooks: true, webhookAllowCidrs: ['127.0.0.0/8'] },
    });
    volt = await tenant(t, 'VOLT');
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await t.close();
  });

  const api = (url: string) => t.app.http.inject({ method: 'GET', url, headers: bearer(volt.adminKey) });

  it('refused connection, DNS failure and SSRF block each show only their fixed message', async () => {
    const typed: Record<string, string> = {
      connection_refused: `http://refused.example.test:${closedPort}/hook`,
      dns: 'https://nxdomain.example.test/hook',
      ssrf_blocked: 'https://internal.example.test/hook',
    };
    const endpointKind = new Map<string, string>();
    for (const [kind, url] of Object.entries(typed)) {
      const r = await t.app.http.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: bearer(volt.adminKey),
        payload: { url, events: ['*'] },
      });
      expect(r.statusCode).toBe(201);
      endpointKind.set(r.json().data.id, kind);
    }
    worker = await testWorker(t, { lookup: lookupFor() });
    const filed = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(volt.consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'Telecom', title: 'x', description: 'y' },
    });
    expect(filed.statusCode).toBe(201);
    expect(await worker.worker.drain()).toBe(3);

    const expected: Record<string, string> = {
      connection_refused: 'the receiver refused the connection',
      dns: 'the host name could not be resolved',
      ssrf_blocked: 'the host resolves to an address webhooks may not reach',
    };
    const shown: string[] = [];
    for (const [endpointId, kind] of endpointKind) {
      const list = await api(`/api/v1/webhooks/${endpointId}/deliveries`);
      expect(list.statusCode).toBe(200);
      shown.push(list.body);
      const [delivery] = list.json().data;
      const detail = await api(`/api/v1/deliveries/${delivery.id}`);
      expect(detail.statusCode).toBe(200);
      shown.push(detail.body);
      const attempts = detail.json().data.attempts as Array<{ error_kind: string; error_message: string }>;
      expect(attempts.map((a) => [a.error_kind, a.error_message])).toEqual([[kind, expected[kind]]]);
    }
    shown.push((await api('/api/v1/deliveries')).body);
    const stored = await t.store.db.selectFrom('attempts').select(['error_message', 'response_excerpt']).execute();
    const storedDeliveries = await t.store.db.selectFrom('deliveries').select('last_error').execute();
    shown.push(JSON.stringify(stored), JSON.stringify(storedDeliveries));
    for (const text of shown) {
      // No address of any kind (the only digits a tenant typed are its port), no OS or resolver wording.
      expect(text).not.toMatch(/\b\d{1,3}(\.\d{1,3}){3}\b/);
      expect(text).not.toMatch(/::1|ECONN|ENOTFOUND|getaddrinfo|resolver|loopback|private/i);
    }
    expect(stored.map((a) => a.error_message).sort()).toEqual(Object.values(expected).sort());
  });
});
