import type { Config } from '../../src/config.js';
import { startDeliveryWorker, type RunningWorker } from '../../src/runtime/delivery-worker.js';
import { createEndpoint } from '../../src/webhooks/endpoints.js';
import type { TestApp } from './harness.js';

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
  return startDeliveryWorker(t.app, { ...t.config, ...opts.config }, undefined, {
    autoStart: opts.autoStart ?? false,
    tls: opts.tls,
    lookup: opts.lookup,
  });
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
