import net from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { LookupFn } from '../../src/webhooks/ssrf-guard.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { bearer, createTestApp, type TestApp } from '../helpers/harness.js';
import { startWorkerFor, testWorker } from '../helpers/webhooks.js';
import { tenant, type Tenant } from '../api/platform-fixtures.js';
import { shieldTargets } from '../../src/shield/destinations/index.js';
import { defaultTargets } from '../../src/webhooks/target-registry.js';
import { ShieldProcessor } from '../../src/shield/processor.js';
import { changedTables, snapshot } from './table-snapshot.js';
import { isLoopbackTarget, loopbackOnlyNetwork } from '../helpers/loopback-only.js';

/**
 * SPEC §5's SSRF guard, end to end through the product (the classifier's own matrix is in
 * test/webhooks/ssrf-guard.test.ts). Private, link-local and the other blocked ranges are checked on the
 * classifier's verdict alone: this file never connects anywhere, and a safety net on net.Socket refuses any socket
 * that is not loopback, so a broken guard fails the test instead of reaching the network.
 *
 * 1. Saving: every spelling of a blocked literal address (decimal, octal, hex, short forms, IPv4-mapped IPv6,
 *    NAT64, full-width digits, ideographic dots) is refused with 400 invalid_url on create and on edit.
 * 2. Sending: a host name whose DNS answer is (or changes to) a blocked address is refused at connect time, for
 *    webhook endpoints and for Escalation Shield webhook destinations alike, and the attempt says why.
 */

const connectTargets = loopbackOnlyNetwork();

/** Literal hosts that reach a blocked address, each with the range the refusal names. */
const BLOCKED_LITERALS: Array<[string, string]> = [
  ['127.0.0.1', 'loopback'],
  ['2130706433', 'loopback'],
  ['0x7f000001', 'loopback'],
  ['017700000001', 'loopback'],
  ['0177.0.0.01', 'loopback'],
  ['127.000.000.001', 'loopback'],
  ['127.1', 'loopback'],
  ['０x7f.1', 'loopback'],
  ['127。0。0。1', 'loopback'],
  ['[::1]', 'loopback'],
  ['[0:0:0:0:0:ffff:127.0.0.1]', 'loopback'],
  ['[::ffff:7f00:1]', 'loopback'],
  ['10.0.0.1', 'private'],
  ['0x0a.0.0.1', 'private'],
  ['10.1', 'private'],
  ['167772161', 'private'],
  ['172.16.0.1', 'private'],
  ['192.168.1.1', 'private'],
  ['3232235777', 'private'],
  ['[::ffff:10.0.0.1]', 'private'],
  ['169.254.169.254', 'link-local'],
  ['169.254.169.254.', 'link-local'],
  ['2852039166', 'link-local'],
  ['0251.0376.0251.0376', 'link-local'],
  ['0xa9.0xfe.0xa9.0xfe', 'link-local'],
  ['[::ffff:169.254.169.254]', 'link-local'],
  ['[::ffff:a9fe:a9fe]', 'link-local'],
  ['[64:ff9b::a9fe:a9fe]', 'link-local'],
  ['[fe80::1]', 'link-local'],
  ['100.64.0.1', 'cgnat'],
  ['[fd00::1]', 'unique-local'],
  ['[fc00::1]', 'unique-local'],
  ['224.0.0.1', 'multicast'],
  ['0.0.0.0', 'unspecified'],
  ['0', 'unspecified'],
  ['[::]', 'unspecified'],
];

describe('SSRF: blocked addresses cannot be saved as webhook URLs, in any spelling', () => {
  let t: TestApp;
  let volt: Tenant;
  let endpointId: string;
  beforeAll(async () => {
    // The operator allows plain http (for development) but allow-lists nothing: only the SSRF policy decides.
    t = await createTestApp({ config: { allowHttpWebhooks: true, webhookAllowCidrs: [] } });
    volt = await tenant(t, 'VOLT');
    const created = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: bearer(volt.adminKey),
      payload: { url: 'https://hooks.example.com/x', events: ['*'] },
    });
    endpointId = created.json().data.id;
  });
  afterAll(async () => t.close());

  it.each(BLOCKED_LITERALS)('%s is refused on create and on edit (%s), and nothing is written', async (host, range) => {
    const before = await snapshot(t.store.db);
    for (const scheme of ['https', 'http']) {
      const url = `${scheme}://${host}:8443/hook`;
      const created = await t.app.http.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: bearer(volt.adminKey),
        payload: { url, events: ['*'] },
      });
      expect([url, created.statusCode, created.json().error.code]).toEqual([url, 400, 'invalid_url']);
      expect(created.json().error.message).toContain(range.split('-')[0]);
      const edited = await t.app.http.inject({
        method: 'PATCH',
        url: `/api/v1/webhooks/${endpointId}`,
        headers: bearer(volt.adminKey),
        payload: { url },
      });
      expect([url, edited.statusCode, edited.json().error.code]).toEqual([url, 400, 'invalid_url']);
    }
    expect(changedTables(before, await snapshot(t.store.db))).toEqual([]);
  });
});

/** What a host name resolves to when the worker connects (DNS answers of any kind, including IPv4-mapped). */
const DNS_ANSWERS: Record<string, string> = {
  'private-a.example.test': '10.0.0.1',
  'private-b.example.test': '172.16.5.4',
  'private-c.example.test': '192.168.0.10',
  'metadata.example.test': '169.254.169.254',
  'mapped-metadata.example.test': '::ffff:169.254.169.254',
  'mapped-hex.example.test': '::ffff:a9fe:a9fe',
  'nat64.example.test': '64:ff9b::a9fe:a9fe',
  'cgnat.example.test': '100.64.0.1',
  'ula.example.test': 'fd12:3456::1',
  'linklocal6.example.test': 'fe80::1',
  'zero.example.test': '0.0.0.0',
  'loopback.example.test': '127.0.0.1',
  'loopback6.example.test': '::1',
};
const lookup: LookupFn = async (hostname) => {
  const address = DNS_ANSWERS[hostname];
  if (!address) throw Object.assign(new Error(`no test DNS answer for ${hostname}`), { code: 'ENOTFOUND' });
  return [{ address, family: net.isIP(address) }];
};

describe('SSRF: names that resolve to blocked addresses are refused when connecting, never reached', () => {
  let t: TestApp;
  let volt: Tenant;
  let worker: RunningWorker;
  beforeEach(async () => {
    t = await createTestApp({
      clock: new ManualClock(Date.now()),
      config: { allowHttpWebhooks: true, webhookAllowCidrs: [] },
    });
    volt = await tenant(t, 'VOLT');
  });
  afterEach(async () => {
    await worker?.stop();
    await t.close();
  });

  const attempts = () =>
    t.store.db
      .selectFrom('attempts')
      .innerJoin('deliveries', 'deliveries.id', 'attempts.delivery_id')
      .select(['attempts.error_kind', 'attempts.error_message', 'attempts.status_code', 'deliveries.status'])
      .execute();

  it('webhook endpoints: every blocked answer is an ssrf_blocked attempt, and no socket leaves loopback', async () => {
    // Saved while the names are ordinary host names: only the connect-time check can catch them.
    for (const host of Object.keys(DNS_ANSWERS)) {
      const r = await t.app.http.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: bearer(volt.adminKey),
        payload: { url: `https://${host}:8443/hook`, events: ['*'] },
      });
      expect([host, r.statusCode]).toEqual([host, 201]);
    }
    worker = await testWorker(t, { lookup });
    const filed = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(volt.consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'Telecom', title: 'x', description: 'y' },
    });
    expect(filed.statusCode).toBe(201);
    const before = connectTargets.length;
    expect(await worker.worker.drain()).toBe(Object.keys(DNS_ANSWERS).length);
    const made = await attempts();
    expect(made).toHaveLength(Object.keys(DNS_ANSWERS).length);
    for (const a of made) {
      expect(a).toMatchObject({ error_kind: 'ssrf_blocked', status_code: null, status: 'failed' });
      // One fixed text: which range the name resolved into would tell the tenant about the network.
      expect(a.error_message).toBe('the host resolves to an address webhooks may not reach');
    }
    expect(connectTargets.slice(before).filter((h) => !isLoopbackTarget(h))).toEqual([]);
  });

  it('Shield webhook destinations go through the same guard', async () => {
    const destinations = [
      'metadata.example.test',
      'mapped-metadata.example.test',
      'private-a.example.test',
      'loopback.example.test',
    ].map((host) => ({ type: 'webhook', url: `https://${host}/alert` }));
    const automation = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/automations',
      headers: bearer(volt.adminKey),
      payload: { name: 'Risk', active: true, filter: { min_level: 'low' }, destinations },
    });
    expect(automation.statusCode, automation.body).toBe(201);
    const fed = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/feedback',
      headers: bearer(volt.adminKey),
      payload: { id: 'fb-1', source: 'Zendesk', content: 'UNACCEPTABLE!!! I will sue you and file a chargeback.' },
    });
    expect(fed.statusCode).toBe(202);
    expect((await new ShieldProcessor(t.app.ctx).tick()).alerts).toBe(1);
    worker = await startWorkerFor(t.app, t.config, {
      autoStart: false,
      lookup,
      targets: { ...defaultTargets(), ...shieldTargets },
    });
    const before = connectTargets.length;
    expect(await worker.worker.drain()).toBe(4);
    const made = await attempts();
    expect(made.map((a) => a.error_kind)).toEqual(['ssrf_blocked', 'ssrf_blocked', 'ssrf_blocked', 'ssrf_blocked']);
    expect(connectTargets.slice(before).filter((h) => !isLoopbackTarget(h))).toEqual([]);
  });
});
