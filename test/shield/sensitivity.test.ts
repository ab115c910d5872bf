import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/harness.js';
import type { Receiver } from '../helpers/receiver.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import {
  createAutomationOk,
  EXTREME,
  postAutomation,
  postFeedback,
  processorFor,
  record,
  startShieldScene,
  stopShieldScene,
  type ShieldTenant,
} from './shield-helpers.js';

// The model puts this just below "medium" at the balanced and conservative settings and above it at the sensitive one.
const BORDERLINE = 'Still waiting on the refund you promised.';

describe('automation sensitivity', () => {
  let t: TestApp, rx: Receiver, w: RunningWorker, tenant: ShieldTenant;
  beforeEach(async () => {
    ({ t, tenant, rx, w } = await startShieldScene());
  });
  afterEach(async () => stopShieldScene({ t, rx, w }));

  it('defaults to balanced, refuses an unknown value, and is shown with its expected precision and recall', async () => {
    const made = await createAutomationOk(t, tenant.adminKey, { name: 'd', filter: { min_level: 'high' } });
    expect((made as unknown as { sensitivity: string }).sensitivity).toBe('balanced');
    const bad = await postAutomation(t, tenant.adminKey, {
      name: 'x',
      filter: { min_level: 'high' },
      sensitivity: 'paranoid',
    });
    expect(bad.statusCode).toBe(400);
    const cal = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/automations/sensitivities',
      headers: { authorization: `Bearer ${tenant.readKey}` },
    });
    expect(cal.statusCode).toBe(200);
    const rows = cal.json().data as { sensitivity: string; precision: number; recall: number }[];
    expect(rows.map((r) => r.sensitivity)).toEqual(['conservative', 'balanced', 'sensitive']);
    const by = Object.fromEntries(rows.map((r) => [r.sensitivity, r]));
    expect(by.sensitive.recall).toBeGreaterThanOrEqual(by.balanced.recall);
    expect(by.conservative.recall).toBeLessThanOrEqual(by.balanced.recall);
  });

  it('changes which records alert: sensitive catches the borderline record, every setting catches the clear one', async () => {
    const hook = (tag: string) => [{ type: 'webhook', url: `${rx.url}?a=${tag}` }];
    for (const sensitivity of ['conservative', 'balanced', 'sensitive'])
      await createAutomationOk(t, tenant.adminKey, {
        name: sensitivity,
        filter: { min_level: 'medium' },
        sensitivity,
        destinations: hook(sensitivity),
      });
    await postFeedback(t, tenant.adminKey, { records: [record('border', BORDERLINE), record('clear', EXTREME)] });
    expect(await processorFor(t).tick()).toEqual({ scored: 2, alerts: 4 });
    await w.worker.drain();
    const got = rx.requests.map((r) => {
      const body = JSON.parse(r.body.toString());
      return `${new URL(r.url, 'http://x').searchParams.get('a')}:${body.record.id}:${body.explanation.sensitivity}`;
    });
    expect(got.sort()).toEqual([
      'balanced:clear:balanced',
      'conservative:clear:conservative',
      'sensitive:border:sensitive',
      'sensitive:clear:sensitive',
    ]);
    // the receiver's fields keep the record's own level; the explanation says the level at the automation's setting
    const border = rx.requests.map((r) => JSON.parse(r.body.toString())).find((b) => b.record.id === 'border');
    expect(border.levels.escalation_level).toBe('low');
    expect(border.explanation.escalation_level).toBe('medium');
  });
});
