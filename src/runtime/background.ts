import type { Logger } from 'pino';
import { ShieldProcessor } from '../shield/processor.js';
import { ScoringPool } from '../shield/scoring-pool.js';
import { startDeliveryWorker, type RunningWorker } from '../webhooks/worker.js';
import { deliveryTargets } from './delivery-targets.js';
import type { Runtime } from './runtime.js';

export interface BackgroundWork {
  /** Lets each loop finish its current step; resolves when all have stopped. Safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * The background loops of a process that does background work: the SLA scheduler, the retention step (removes
 * history older than each company's window, in short batches), the queue tables' vacuum (PostgreSQL), the Shield
 * processor (scores feedback on its own threads, raises alerts) and the delivery worker. Each takes its step in its
 * own transactions, so any number of processes may run them against one PostgreSQL.
 */
export async function startBackgroundWork(runtime: Runtime, log?: Logger): Promise<BackgroundWork> {
  const { config } = runtime;
  runtime.scheduler.start();
  runtime.retention.start();
  runtime.queueVacuum.start();
  const scoring = new ScoringPool(config.shieldThreads);
  const shield = new ShieldProcessor(runtime.ctx, {
    log,
    pool: scoring,
    companyInFlight: config.shieldCompanyInFlight,
  });
  shield.start();
  let worker: RunningWorker;
  try {
    worker = await startDeliveryWorker({
      ctx: runtime.ctx,
      config,
      targets: deliveryTargets(),
      log,
      metrics: runtime.metrics,
      onStoreError: (err) => runtime.readiness.noteError(err),
    });
  } catch (err) {
    await Promise.all([runtime.scheduler.stop(), runtime.retention.stop(), runtime.queueVacuum.stop(), shield.stop()]);
    await scoring.close();
    throw err;
  }
  let stopping: Promise<void> | null = null;
  const quietly = (what: string) => (err: unknown) => log?.error({ err }, `stopping the ${what} failed`);
  return {
    stop() {
      stopping ??= (async () => {
        await runtime.scheduler.stop().catch(quietly('scheduler'));
        await runtime.retention.stop().catch(quietly('retention step'));
        await runtime.queueVacuum.stop().catch(quietly('queue vacuum'));
        await shield.stop().catch(quietly('Shield processor'));
        // After the processor: a batch it was scoring finishes on these threads before they end.
        await scoring.close().catch(quietly('scoring threads'));
        // Releases the leases of deliveries it claimed but did not send, so another process takes them at once.
        await worker.stop().catch(quietly('delivery worker'));
      })();
      return stopping;
    },
  };
}
