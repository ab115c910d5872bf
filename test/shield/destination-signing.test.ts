import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { createAutomationOk, EXTREME, postFeedback, processorFor, record, shieldWorker } from './shield-helpers.js';

const hexVerifies = (secret: string, body: Buffer, signature: string | undefined) => {
  const expected = createHmac('sha256', secret).update(body).digest('hex');
  return (
    !!signature &&
    signature.length === expected.length &&
    timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
  );
};

describe('Shield webhook destinations are signed like endpoints', () => {
  let t: TestApp;
  let rx: Receiver;
  let w: RunningWorker;
  let volt: Awaited<ReturnType<typeof seedTenant>>;
  let acme: Awaited<ReturnType<typeof seedTenant>>;

  beforeEach(async () => {
    // Standard Webhooks receivers compare the timestamp with their own clock: start at real time.
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    volt = await seedTenant(t, { code: 'VOLT' });
    acme = await seedTenant(t, { code: 'ACME' });
    rx = await startReceiver();
    w = await shieldWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await rx.close();
    await t.close();
  });

  const api = (method: 'GET' | 'POST', url: string, key = volt.adminKey, payload?: object) =>
    t.app.http.inject({ method, url: `/api/v1${url}`, headers: bearer(key), ...(payload ? { payload } : {}) });

  async function alertOnce(id: string): Promise<void> {
    expect((await postFeedback(t, volt.adminKey, record(id, EXTREME))).statusCode).toBe(202);
    expect(await processorFor(t).tick()).toMatchObject({ alerts: 1 });
    expect(await w.worker.drain()).toBe(1);
  }

  it('keeps the Shield headers and adds both signatures, verified by standardwebhooks and the hex scheme', async () => {
    const automation = await createAutomationOk(t, volt.adminKey, {
      destinations: [{ type: 'webhook', url: rx.url, auth: { type: 'bearer', token: 'tok-123456' } }],
    });
    const dest = automation.destinations[0];
    const revealed = await api('GET', `/automations/${automation.id}/destinations/${dest.id}/secret`);
    expect(revealed.statusCode).toBe(200);
    expect(revealed.headers['cache-control']).toBe('no-store');
    const secret: string = revealed.json().data.secret;
    expect(secret).toMatch(/^whsec_/);

    await alertOnce('r-1');
    const [req] = rx.requests;
    expect(req.headers['user-agent']).toBe('SupportEscalationAutomation/1.0');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['idempotency-key']).toBe(`${automation.id}:${dest.id}:r-1`);
    expect(req.headers.authorization).toBe('Bearer tok-123456');
    expect(req.headers['x-escalatr-event']).toBe('shield.alert');
    expect(hexVerifies(secret, req.body, req.headers['x-escalatr-signature'] as string)).toBe(true);
    const verified = new Webhook(secret).verify(req.body.toString(), req.headers as Record<string, string>);
    expect(verified).toMatchObject({ automation_id: automation.id, record: { id: 'r-1' } });
  });

  it('rotates with a grace period: both secrets sign until it ends, then only the new one', async () => {
    const automation = await createAutomationOk(t, volt.adminKey, { destinations: [{ type: 'webhook', url: rx.url }] });
    const base = `/automations/${automation.id}/destinations/${automation.destinations[0].id}/secret`;
    const old: string = (await api('GET', base)).json().data.secret;
    const rotated = await api('POST', `${base}/regenerate`, volt.adminKey, { grace_period_s: 3600 });
    expect(rotated.statusCode).toBe(200);
    const fresh: string = rotated.json().data.secret;
    expect(fresh).not.toBe(old);
    expect(rotated.json().data.previous_secret_expires_at).toBe(new Date(t.clock.now() + 3_600_000).toISOString());
    expect((await api('GET', base)).json().data.secret).toBe(fresh);

    await alertOnce('r-2');
    const during = rx.requests[0];
    expect(hexVerifies(fresh, during.body, during.headers['x-escalatr-signature'] as string)).toBe(true);
    expect(hexVerifies(old, during.body, during.headers['x-escalatr-signature-previous'] as string)).toBe(true);
    for (const s of [old, fresh])
      new Webhook(s).verify(during.body.toString(), during.headers as Record<string, string>);

    // An edit of the automation keeps the destination and its secret.
    const patched = await t.app.http.inject({
      method: 'PATCH',
      url: `/api/v1/automations/${automation.id}`,
      headers: bearer(volt.adminKey),
      payload: { name: 'Renamed', destinations: [{ id: automation.destinations[0].id, type: 'webhook', url: rx.url }] },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect((await api('GET', base)).json().data.secret).toBe(fresh);

    // Rotating again without a grace period: the old secret stops at once. (Real time: the verifier checks it.)
    const again: string = (await api('POST', `${base}/regenerate`)).json().data.secret;
    await alertOnce('r-3');
    const after = rx.requests[1];
    expect(after.headers['x-escalatr-signature-previous']).toBeUndefined();
    expect(() => new Webhook(fresh).verify(after.body.toString(), after.headers as Record<string, string>)).toThrow();
    new Webhook(again).verify(after.body.toString(), after.headers as Record<string, string>);
  });

  it("answers 404 for another company's destination, a Slack destination and a bad grace period changes nothing", async () => {
    const automation = await createAutomationOk(t, volt.adminKey, {
      destinations: [
        { type: 'webhook', url: rx.url },
        { type: 'slack', url: 'https://hooks.slack.com/services/T000/B000/XXXXXXXX' },
      ],
    });
    const [hook, slack] = automation.destinations;
    const base = `/automations/${automation.id}/destinations/${hook.id}/secret`;
    const before: string = (await api('GET', base)).json().data.secret;

    const foreign = await api('GET', base, acme.adminKey);
    expect([foreign.statusCode, foreign.json().error.code]).toEqual([404, 'not_found']);
    expect((await api('POST', `${base}/regenerate`, acme.adminKey)).statusCode).toBe(404);
    const notSigned = await api('GET', `/automations/${automation.id}/destinations/${slack.id}/secret`);
    expect([notSigned.statusCode, notSigned.json().error.code]).toEqual([404, 'not_found']);
    const badGrace = await api('POST', `${base}/regenerate`, volt.adminKey, { grace_period_s: -1 });
    expect([badGrace.statusCode, badGrace.json().error.code]).toEqual([400, 'validation_failed']);
    const viewer = await api('GET', base, volt.readKey);
    expect(viewer.statusCode).toBe(403);
    expect((await api('GET', base)).json().data.secret).toBe(before);
  });

  it('a destination saved before destinations signed gets its secret at its first alert, once', async () => {
    const automation = await createAutomationOk(t, volt.adminKey, { destinations: [{ type: 'webhook', url: rx.url }] });
    await t.store.db.updateTable('destinations').set({ secret_enc: null }).execute();
    await alertOnce('r-4');
    const secret: string = (
      await api('GET', `/automations/${automation.id}/destinations/${automation.destinations[0].id}/secret`)
    ).json().data.secret;
    const [req] = rx.requests;
    expect(hexVerifies(secret, req.body, req.headers['x-escalatr-signature'] as string)).toBe(true);
  });
});
