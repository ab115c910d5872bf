import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/runtime/app.js';
import { createTestApp, dialectName, type TestApp } from '../helpers/harness.js';
import { call, complaintInput, seedCompany, type Tenant } from './complaint-fixtures.js';
import { bearer } from '../helpers/harness.js';

/** Complaint numbers come from a per-company sequence taken under the company row's lock: distinct and gapless. */
describe('concurrent filing', () => {
  let t: TestApp;
  let tenant: Tenant;

  beforeEach(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
  });
  afterEach(async () => t.close());

  const fileOn = (app: App, i: number) =>
    call(
      { ...t, app },
      {
        method: 'POST',
        url: '/api/consumer/v1/complaints',
        headers: bearer(tenant.consumerToken),
        payload: complaintInput({ title: `complaint ${i}` }),
      },
    );

  async function expectGapless(ids: string[]): Promise<void> {
    expect(new Set(ids).size).toBe(50);
    const numbers = ids.map((id) => Number(id.slice(-5))).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(ids.every((id) => /^ESC-VOLT-260417-\d{5}$/.test(id))).toBe(true);
    const events = await t.store.db
      .selectFrom('events')
      .select(['seq', 'complaint_id'])
      .where('name', '=', 'complaint.created')
      .orderBy('seq')
      .execute();
    expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(new Set(events.map((e) => e.complaint_id))).toEqual(new Set(ids));
  }

  it('50 complaints filed at once get 50 distinct, consecutive numbers', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => fileOn(t.app, i)));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    await expectGapless(answers.map((a) => a.body.data.escalatr_id));
  });

  // SQLite is one process by design; several processes share one database only on PostgreSQL.
  it.skipIf(dialectName !== 'postgres')(
    '50 complaints filed at once through two processes get 50 distinct, consecutive numbers',
    async () => {
      const second = await buildApp({ config: t.config, store: t.testStore.reopen(), clock: t.clock, logger: false });
      try {
        const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => fileOn(i % 2 ? second : t.app, i)));
        expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
        await expectGapless(answers.map((a) => a.body.data.escalatr_id));
      } finally {
        await second.http.close();
      }
    },
  );
});
