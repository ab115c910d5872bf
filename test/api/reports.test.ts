import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import {
  consumerApi,
  expectError,
  fileComplaint,
  okData,
  seedCompany,
  staffApi,
  type Tenant,
} from '../domain/complaint-fixtures.js';

const HOUR = 3600_000;
const START = Date.parse('2026-03-02T00:00:00Z');
const zeroLevels = { L1: 0, L2: 0, L3: 0, L4: 0, L5: 0, L6: 0, L7: 0, L8: 0, L9: 0 };

/**
 * The SLA report against a fixture worked out by hand (24×7 windows: L1 72 h, L2 48 h), with another company's
 * complaints beside it that must never be counted.
 *
 *   A (Billing)  filed day 1 00:00, claimed +1 h (L1 met), completed +3 h, resolved by the consumer +4 h
 *   B (Billing)  filed day 1 00:00, claimed +2 h (L1 met), stays open at L1
 *   C (Delivery) filed day 1 00:00, breached at +72 h (L1 breached, escalated to L2), claimed +73 h (L2 met)
 *   ACME's D     filed day 1 00:00, claimed +30 min, resolved +1 h
 */
describe('SLA report', () => {
  let t: TestApp;
  let volt: Tenant;
  let admin: ReturnType<typeof staffApi>;

  beforeAll(async () => {
    t = await createTestApp();
    t.clock.set(START);
    volt = await seedCompany(t);
    const acme = await seedCompany(t, { code: 'ACME' });
    admin = staffApi(t, volt.adminKey);
    const acmeAdmin = staffApi(t, acme.adminKey);
    const a = await fileComplaint(t, volt.consumerToken, { complaint_category: 'Billing' });
    const b = await fileComplaint(t, volt.consumerToken, { complaint_category: 'Billing' });
    const c = await fileComplaint(t, volt.consumerToken, { complaint_category: 'Delivery' });
    const d = await fileComplaint(t, acme.consumerToken, { company_code: 'ACME', complaint_category: 'Billing' });
    t.clock.set(START + HOUR / 2);
    okData(await acmeAdmin.post(`/complaints/${d}/claim`));
    okData(await acmeAdmin.post(`/complaints/${d}/complete`, { resolution_notes: 'Done' }));
    t.clock.set(START + HOUR);
    okData(await consumerApi(t, acme.consumerToken).post(`/complaints/${d}/resolve`, { resolution_type: 'refund' }));
    okData(await admin.post(`/complaints/${a}/claim`));
    t.clock.set(START + 2 * HOUR);
    okData(await admin.post(`/complaints/${b}/claim`));
    t.clock.set(START + 3 * HOUR);
    okData(await admin.post(`/complaints/${a}/complete`, { resolution_notes: 'Refunded' }));
    t.clock.set(START + 4 * HOUR);
    okData(await consumerApi(t, volt.consumerToken).post(`/complaints/${a}/resolve`, { resolution_type: 'refund' }));
    t.clock.set(START + 72 * HOUR);
    expect(await t.app.scheduler.tick()).toBe(1);
    t.clock.set(START + 73 * HOUR);
    okData(await admin.post(`/complaints/${c}/claim`));
  });
  afterAll(async () => t.close());

  it('counts attainment, percentiles and the daily backlog as worked out by hand', async () => {
    const report = okData(await admin.get('/reports/sla?from=2026-03-02&to=2026-03-05'));
    expect(report).toEqual({
      from: '2026-03-02',
      to: '2026-03-05',
      attainment_by_level: [
        { level: 'L1', met: 2, breached: 1, percent: 66.7 },
        { level: 'L2', met: 1, breached: 0, percent: 100 },
      ],
      attainment_by_category: [
        { category: 'Billing', met: 2, breached: 0, percent: 100 },
        { category: 'Delivery', met: 1, breached: 1, percent: 50 },
      ],
      // 1 h, 2 h, 73 h: the median is the second, the 90th and 95th the third.
      first_response: { count: 3, p50_s: 7200, p90_s: 262800, p95_s: 262800 },
      resolution: { count: 1, p50_s: 14400, p90_s: 14400, p95_s: 14400 },
      backlog: [
        // A closed on day 1; C left L1 for L2 at the very end of day 4 (midnight), so it counts at L1 that day.
        { date: '2026-03-02', by_level: { ...zeroLevels, L1: 2 } },
        { date: '2026-03-03', by_level: { ...zeroLevels, L1: 2 } },
        { date: '2026-03-04', by_level: { ...zeroLevels, L1: 2 } },
        { date: '2026-03-05', by_level: { ...zeroLevels, L1: 1, L2: 1 } },
      ],
    });
  });

  it('limits each figure to the range', async () => {
    const report = okData(await admin.get('/reports/sla?from=2026-03-05&to=2026-03-05'));
    expect(report.attainment_by_level).toEqual([
      { level: 'L1', met: 0, breached: 1, percent: 0 },
      { level: 'L2', met: 1, breached: 0, percent: 100 },
    ]);
    expect(report.first_response).toEqual({ count: 1, p50_s: 262800, p90_s: 262800, p95_s: 262800 });
    expect(report.resolution).toEqual({ count: 0, p50_s: null, p90_s: null, p95_s: null });
  });

  it('answers an empty range with zeros and one backlog entry a day', async () => {
    expect(okData(await admin.get('/reports/sla?from=2025-01-01&to=2025-01-02'))).toEqual({
      from: '2025-01-01',
      to: '2025-01-02',
      attainment_by_level: [],
      attainment_by_category: [],
      first_response: { count: 0, p50_s: null, p90_s: null, p95_s: null },
      resolution: { count: 0, p50_s: null, p90_s: null, p95_s: null },
      backlog: [
        { date: '2025-01-01', by_level: zeroLevels },
        { date: '2025-01-02', by_level: zeroLevels },
      ],
    });
  });

  it('refuses bad ranges with invalid_range, and missing or extra parameters with invalid_query', async () => {
    for (const q of ['from=2026-02-30&to=2026-03-01', 'from=2026-03-05&to=2026-03-01', 'from=2025-01-01&to=2026-01-02'])
      expectError(await admin.get(`/reports/sla?${q}`), 400, 'invalid_range');
    expectError(await admin.get('/reports/sla.csv?from=2026-03-05&to=2026-03-01'), 400, 'invalid_range');
    for (const q of ['from=2026-03-01', 'from=03/01/2026&to=2026-03-02', 'from=2026-03-01&to=2026-03-02&x=1'])
      expectError(await admin.get(`/reports/sla?${q}`), 400, 'invalid_query');
    // A year and a day is the longest range.
    okData(await admin.get('/reports/sla?from=2025-01-01&to=2026-01-01'));
  });

  it('exports the same figures as a CSV download', async () => {
    const r = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/reports/sla.csv?from=2026-03-02&to=2026-03-05',
      headers: { authorization: `Bearer ${volt.readKey}` },
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(r.headers['content-disposition']).toBe('attachment; filename="sla-report-2026-03-02-to-2026-03-05.csv"');
    const lines = r.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe('section,group,metric,value');
    expect(lines).toContain('attainment_by_level,L1,percent,66.7');
    expect(lines).toContain('attainment_by_category,Delivery,breached,1');
    expect(lines).toContain('first_response,all,p50_s,7200');
    expect(lines).toContain('resolution,all,count,1');
    expect(lines).toContain('backlog,2026-03-05,L2,1');
    expect(lines).toHaveLength(1 + 2 * 3 + 2 * 3 + 2 * 4 + 4 * 9);
  });

  it('needs credentials', async () => {
    const r = await staffApi(t, 'esc_nope').get('/reports/sla?from=2026-03-02&to=2026-03-05');
    expectError(r, 401, 'unauthorized');
  });
});
