import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { ApiKeyCache } from '../domain/api-key-cache.js';
import type { DomainContext } from '../domain/context.js';
import { RetentionPruner, type PruneReport } from '../domain/retention-pruner.js';
import { SlaScheduler } from '../domain/sla-scheduler.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { earliestDueAt, queueDepth } from '../queue/queue-stats.js';
import { QueueVacuum } from '../queue/queue-vacuum.js';
import { Wakeups } from '../queue/wakeup.js';
import { SecretBox } from '../security/secret-box.js';
import { StoreAvailability } from '../storage/availability.js';
import type { Store } from '../storage/db.js';
import { openReadStore, type ReadStore } from '../storage/read-store.js';
import { endpointStates } from '../webhooks/endpoint-states.js';

export interface RuntimeOptions {
  config: Config;
  store: Store;
  clock?: Clock;
  logger?: Logger;
  /** Log lines the process's log writer dropped, for escalatr_log_lines_dropped_total. */
  logLinesDropped?: () => number;
}

/**
 * What one process shares between its HTTP app and its background loops: the open store, the domain context,
 * readiness, metrics and the SLA scheduler. Built once per process (and once per test app); the HTTP app, the
 * delivery worker and the Shield processor are each handed the parts they use.
 */
export interface Runtime {
  config: Config;
  store: Store;
  clock: Clock;
  ctx: DomainContext;
  /** Store-unavailable failures seen by any part; /readyz reads it. */
  readiness: StoreAvailability;
  metrics: Metrics;
  /** Where the API's reads go: the primary, or the read replica of DATABASE_READ_URL (closed with the runtime's stop). */
  reads: ReadStore;
  scheduler: SlaScheduler;
  /** Removes history older than each company's retention window, in small batches. */
  retention: RetentionPruner;
  /** PostgreSQL: vacuums the queue's tables once their dead row versions pass a count. */
  queueVacuum: QueueVacuum;
  logger?: Logger;
}

/**
 * The domain context over an open store, with the process's one set of wake-ups: its background loops subscribe
 * there, and its commits signal them. A process without loops of its own (a CLI command) has nobody listening; on
 * PostgreSQL its commits NOTIFY the loops of other processes.
 */
export function createDomainContext(
  config: Config,
  store: Store,
  clock: Clock = systemClock,
  logger?: Logger,
): DomainContext {
  return {
    store,
    clock,
    box: new SecretBox(config.masterKey),
    config,
    wakeups: new Wakeups(store, logger),
    apiKeys: new ApiKeyCache(),
  };
}

export function createRuntime(opts: RuntimeOptions): Runtime {
  const clock = opts.clock ?? systemClock;
  const ctx = createDomainContext(opts.config, opts.store, clock, opts.logger);
  const readiness = new StoreAvailability(opts.store.profile);
  readiness.useClock(clock);
  const { store } = opts;
  const reads = openReadStore(store, {
    replicaUrl: opts.config.databaseReadUrl,
    maxLagMs: opts.config.readReplicaMaxLagMs,
    logger: opts.logger,
    onRead: (target, reason) => metrics.storeReads.inc({ target, reason }),
  });
  const metrics = createMetrics({
    logLinesDropped: opts.logLinesDropped,
    storeSize: () => store.profile.storeSize(store.db),
    replicaLag: reads.hasReplica ? () => reads.replicaLag() : undefined,
    queueDepth: () => queueDepth(store),
    oldestDueAgeSeconds: async () => {
      const now = clock.now();
      const due = await earliestDueAt(store, now);
      return due === null ? 0 : Math.max(0, now - due) / 1000;
    },
    endpointStates: () => endpointStates(store),
    walCheckpoints: store.checkpointer ? () => store.checkpointer!.stats() : undefined,
    pgUnansweredClosed: store.pgUnansweredClosed
      ? () => ({ primary: store.pgUnansweredClosed!(), replica: reads.replicaUnansweredClosed() })
      : undefined,
  });
  return {
    config: opts.config,
    store,
    clock,
    ctx,
    readiness,
    metrics,
    reads,
    scheduler: new SlaScheduler(ctx, opts.logger),
    retention: new RetentionPruner(ctx, {
      log: opts.logger,
      intervalMs: opts.config.retentionIntervalMs,
      batchRows: opts.config.retentionBatchRows,
      onRun: (report) => recordRetentionRun(metrics, report),
    }),
    queueVacuum: new QueueVacuum(store, {
      intervalMs: opts.config.queueVacuumIntervalMs,
      minDeadRows: opts.config.queueVacuumDeadRows,
      log: opts.logger,
      onVacuum: (table, _deadRows, ms) => {
        metrics.queueVacuums.inc({ table });
        metrics.queueVacuumSeconds.inc({ table }, ms / 1000);
      },
      onAnalyze: (table) => metrics.queueAnalyzes.inc({ table }),
    }),
    logger: opts.logger,
  };
}

function recordRetentionRun(metrics: Metrics, report: PruneReport): void {
  for (const [table, n] of Object.entries(report.pruned)) {
    metrics.retentionPruned.inc({ table }, n);
    metrics.retentionLastRun.set({ table }, n);
  }
  metrics.retentionRuns.inc({ outcome: report.done ? 'done' : 'more_left' });
  for (const [table, t] of Object.entries(report.oldest)) {
    if (t === null) metrics.oldestRow.remove({ table });
    else metrics.oldestRow.set({ table }, t / 1000);
  }
  for (const [table, p] of Object.entries(report.partitions ?? {})) {
    metrics.historyPartitions.set({ table }, p.partitions);
    if (p.oldestStart !== null) metrics.historyPartitionOldest.set({ table }, p.oldestStart / 1000);
    metrics.historyPartitionChanges.inc({ table, change: 'created' }, p.created);
    metrics.historyPartitionChanges.inc({ table, change: 'dropped' }, p.dropped);
  }
}
