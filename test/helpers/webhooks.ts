import type { App } from '../../src/runtime/app.js';
import type { Config } from '../../src/config.js';
import { deliveryTargets } from '../../src/runtime/delivery-targets.js';
import { startDeliveryWorker, type RunningWorker, type StartDeliveryWorkerOptions } from '../../src/webhooks/worker.js';
import { createEndpoint } from '../../src/webhooks/endpoints.js';
import type { TestApp } from './harness.js';

/** A worker for this app wired as the server wires it (every target, metrics, readiness), with test overrides. */
export function startWorkerFor(
  app: App,
  config: Config,
  extra: Partial<StartDeliveryWorkerOptions> = {},
): Promise<RunningWorker> {
  return startDeliveryWorker({
    ctx: app.ctx,
    config,
    targets: deliveryTargets(),
    metrics: app.metrics,
    onStoreError: (err) => app.readiness.noteError(err),
    ...extra,
  });
}

/** A worker wired like production's (guarded dispatcher, endpoint health), with its loop off unless asked. */
export async function testWorker(
  t: TestApp,
  opts: {
    autoStart?: boolean;
    config?: Partial<Config>;
    tls?: import('node:tls').ConnectionOptions;
    lookup?: import('../../src/webhooks/ssrf-guard.js').LookupFn;
  } = {},
): Promise<RunningWorker> {
  return startWorkerFor(
    t.app,
    { ...t.config, ...opts.config },
    {
      autoStart: opts.autoStart ?? false,
      tls: opts.tls,
      lookup: opts.lookup,
    },
  );
}

export async function addEndpoint(
  t: TestApp,
  companyId: string,
  url: string,
  extra: Partial<Parameters<typeof createEndpoint>[2]> = {},
) {
  return createEndpoint(
    t.app.ctx,
    companyId,
    { url, events: ['*'], ...extra },
    { allowHttp: true, allowCidrs: ['127.0.0.0/8', '::1/128', '::ffff:127.0.0.0/104'] },
  );
}
