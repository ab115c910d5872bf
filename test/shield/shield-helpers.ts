import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { startWorkerFor } from '../helpers/webhooks.js';
import { deliveryTargets } from '../../src/runtime/delivery-targets.js';
import { ShieldProcessor } from '../../src/shield/processor.js';

export const EXTREME =
  'This is UNACCEPTABLE!!! I will sue you, report you to the regulator and file a chargeback. Cancelling my account today.';
export const CALM = 'Thanks, the product works great.';

/** The production worker with Shield destinations registered, its loop off: tests send with drain(). */
export async function shieldWorker(t: TestApp): Promise<RunningWorker> {
  return startWorkerFor(t.app, t.config, {
    autoStart: false,
    targets: deliveryTargets(),
  });
}

export type ShieldTenant = Awaited<ReturnType<typeof seedTenant>>;

/** What most Shield tests start from: an app with one tenant, a receiver for the alerts, and the Shield worker. */
export interface ShieldScene {
  t: TestApp;
  tenant: ShieldTenant;
  rx: Receiver;
  w: RunningWorker;
}

export async function startShieldScene(opts?: Parameters<typeof createTestApp>[0]): Promise<ShieldScene> {
  const t = await createTestApp(opts);
  const tenant = await seedTenant(t);
  const rx = await startReceiver();
  return { t, tenant, rx, w: await shieldWorker(t) };
}

export async function stopShieldScene({ t, rx, w }: Omit<ShieldScene, 'tenant'>): Promise<void> {
  await w.stop();
  await rx.close();
  await t.close();
}

export const processorFor = (t: TestApp) => new ShieldProcessor(t.app.ctx);

export function postFeedback(t: TestApp, key: string, payload: unknown) {
  return t.app.http.inject({
    method: 'POST',
    url: '/api/v1/feedback',
    headers: bearer(key),
    payload: payload as object,
  });
}

export function postAutomation(t: TestApp, key: string, payload: unknown) {
  return t.app.http.inject({
    method: 'POST',
    url: '/api/v1/automations',
    headers: bearer(key),
    payload: payload as object,
  });
}

export async function createAutomationOk(t: TestApp, key: string, payload: Record<string, unknown>) {
  const res = await postAutomation(t, key, {
    name: 'Escalations',
    active: true,
    filter: { min_level: 'high' },
    ...payload,
  });
  if (res.statusCode !== 201) throw new Error(`automation not created: ${res.statusCode} ${res.body}`);
  return res.json().data as { id: string; destinations: Array<{ id: string; type: string; [k: string]: unknown }> };
}

export const record = (id: string, content: string, extra: Record<string, unknown> = {}) => ({
  id,
  source: 'ZendeskSupport',
  content,
  ...extra,
});
