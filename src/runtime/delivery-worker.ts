import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { updateEndpointHealth } from '../webhooks/endpoint-health.js';
import { listenForDeliveries } from '../webhooks/pg-wakeup.js';
import { SsrfGuard, createGuardedDispatcher, type LookupFn } from '../webhooks/ssrf-guard.js';
import type { TargetRegistry } from '../webhooks/targets.js';
import { DeliveryWorker } from '../webhooks/worker.js';
import { deliveryTargets } from './delivery-targets.js';
import type { Runtime } from './runtime.js';

export interface RunningWorker {
  worker: DeliveryWorker;
  stop(): Promise<void>;
}

/** The runtime parts a delivery worker is wired to. */
export type WorkerRuntime = Pick<Runtime, 'ctx' | 'metrics' | 'readiness' | 'onWake'>;

/**
 * Wires a delivery worker into a runtime: the SSRF-guarded dispatcher, the target registry, in-process wake-ups
 * after commits, store failures reported to readiness, and on PostgreSQL a LISTEN connection so commits in other
 * processes wake it too.
 */
export async function startDeliveryWorker(
  runtime: WorkerRuntime,
  config: Config,
  log?: Logger,
  overrides: {
    targets?: TargetRegistry;
    tls?: ConnectionOptions;
    lookup?: LookupFn;
    /** false: wire everything but leave the claim loop off (tests drive it with drain()). */
    autoStart?: boolean;
  } = {},
): Promise<RunningWorker> {
  const dispatcher = createGuardedDispatcher(new SsrfGuard([...config.webhookAllowCidrs]), {
    tls: overrides.tls,
    lookup: overrides.lookup,
  });
  const worker = new DeliveryWorker({
    ctx: runtime.ctx,
    targets: overrides.targets ?? deliveryTargets(),
    dispatcher,
    concurrency: config.workerConcurrency,
    perReceiver: config.perEndpointConcurrency,
    leaseMs: config.leaseMs,
    log,
    metrics: runtime.metrics,
    afterBatch: updateEndpointHealth(runtime.ctx, log),
    onStoreError: (err) => runtime.readiness.noteError(err),
  });
  runtime.onWake(() => worker.wake());
  let listener: { stop(): Promise<void> } | null = null;
  if (runtime.ctx.store.profile.listenNotify && config.databaseUrl) {
    listener = listenForDeliveries(
      config.databaseUrl,
      runtime.ctx.store.pgSchema,
      () => worker.wake(),
      (err) => log?.warn({ err: err.message }, 'delivery LISTEN connection lost; reconnecting'),
    );
  }
  if (overrides.autoStart !== false) await worker.start();
  let stopping: Promise<void> | null = null;
  return {
    worker,
    stop() {
      stopping ??= (async () => {
        // The worker first: from this call on nothing new starts, whatever the LISTEN connection takes to close.
        await Promise.all([worker.stop(), listener?.stop()]);
        await dispatcher.close();
      })();
      return stopping;
    },
  };
}
