import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSources {
  /** Log lines dropped because the log's reader fell behind (see BoundedLogWriter); 0 when logs are not bounded. */
  logLinesDropped?: () => number;
  /** The store's size on disk and its free (reusable) part, read at each scrape. */
  storeSize?: () => Promise<{ bytes: number; freeBytes: number }>;
  /** The read replica's lag as of its last check; null without a replica or while it is down. */
  replicaLag?: () => { bytes: number; seconds: number } | null;
  /** Unsettled deliveries by status, read at each scrape. */
  queueDepth?: () => Promise<{ pending: number; failed: number }>;
  /** Seconds since the earliest unsettled delivery fell due (0 when none is overdue), read at each scrape. */
  oldestDueAgeSeconds?: () => Promise<number>;
  /** Endpoints by health, read at each scrape. */
  endpointStates?: () => Promise<Record<string, number>>;
  /**
   * PostgreSQL: pooled connections closed because a query's answer was not coming (storage/pg-unanswered-queries.ts),
   * on the primary and on the read replica (0 without one).
   */
  pgUnansweredClosed?: () => { primary: number; replica: number };
  /** SQLite's checkpoint thread (storage/wal-checkpointer.ts), where the service runs one. */
  walCheckpoints?: () => WalCheckpointStats;
}

/**
 * What SQLite's checkpoint thread has done: checkpoints run and failed, the WAL's frames (pages) at the latest one (a
 * WAL that grows from one to the next is not being restarted: a reader holds it), and whether the thread still runs.
 */
export interface WalCheckpointStats {
  checkpoints: number;
  failures: number;
  walFrames: number;
  running: boolean;
}

/** One registry per app, so tests that build many apps don't collide on metric names. */
export function createMetrics(sources: MetricsSources = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'escalatr_' });
  const logLinesDropped = sources.logLinesDropped ?? (() => 0);
  return {
    logLinesDropped: new Counter({
      name: 'escalatr_log_lines_dropped_total',
      help: 'Log lines dropped because the log output was not being read fast enough',
      registers: [registry],
      collect() {
        // The writer keeps the count; the counter shows it as of this scrape.
        this.reset();
        this.inc(logLinesDropped());
      },
    }),
    registry,
    attempts: new Counter({
      name: 'escalatr_delivery_attempts_total',
      help: "Delivery attempts by target, outcome (success, or the error kind) and the receiver's adaptive-concurrency state when the attempt started (open, narrowed, probing)",
      labelNames: ['target', 'outcome', 'receiver_state'] as const,
      registers: [registry],
    }),
    attemptDuration: new Histogram({
      name: 'escalatr_delivery_attempt_duration_seconds',
      help: 'Time from sending a delivery to its answer (or failure)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    deadDeliveries: new Counter({
      name: 'escalatr_deliveries_dead_total',
      help: 'Deliveries that used up their retries',
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'escalatr_deliveries_in_flight',
      help: 'Deliveries being sent by this process',
      registers: [registry],
    }),
    storeBytes: new Gauge({
      name: 'escalatr_store_bytes',
      help: 'Size of the store: the SQLite file, or the tables and indexes of the PostgreSQL schema',
      registers: [registry],
      async collect() {
        if (sources.storeSize) this.set((await sources.storeSize()).bytes);
      },
    }),
    storeFreeBytes: new Gauge({
      name: 'escalatr_store_free_bytes',
      help: 'Part of the SQLite file freed by deletes and not yet given back (reused for new rows); 0 on PostgreSQL',
      registers: [registry],
      async collect() {
        if (sources.storeSize) this.set((await sources.storeSize()).freeBytes);
      },
    }),
    queueDepth: new Gauge({
      name: 'escalatr_queue_deliveries',
      help: 'Deliveries not yet settled in the store (every process sees the same queue), by status: pending, or failed and waiting for a retry',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        if (!sources.queueDepth) return;
        const depth = await sources.queueDepth();
        this.set({ status: 'pending' }, depth.pending);
        this.set({ status: 'failed' }, depth.failed);
      },
    }),
    oldestDueAge: new Gauge({
      name: 'escalatr_queue_oldest_due_age_seconds',
      help: 'How long the earliest unsettled delivery has been due (0 when none is overdue): how far the workers are behind',
      registers: [registry],
      async collect() {
        if (sources.oldestDueAgeSeconds) this.set(await sources.oldestDueAgeSeconds());
      },
    }),
    endpoints: new Gauge({
      name: 'escalatr_endpoints',
      help: 'Webhook endpoints of every company by health: healthy, failing (deliveries failing since a time) or disabled',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        if (!sources.endpointStates) return;
        for (const [state, n] of Object.entries(await sources.endpointStates())) this.set({ state }, n);
      },
    }),
    retentionPruned: new Counter({
      name: 'escalatr_retention_rows_pruned_total',
      help: 'Rows removed by retention, by table',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    retentionLastRun: new Gauge({
      name: 'escalatr_retention_last_run_rows_pruned',
      help: 'Rows removed by the latest retention run, by table',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    retentionRuns: new Counter({
      name: 'escalatr_retention_runs_total',
      help: 'Retention runs by outcome: done, or more_left when a run stopped at its batch budget',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    oldestRow: new Gauge({
      name: 'escalatr_store_oldest_row_timestamp_seconds',
      help: 'Creation time of the oldest row per history table (events: the oldest event in any feed), as of the latest retention run',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    historyPartitions: new Gauge({
      name: 'escalatr_history_partitions',
      help: 'PostgreSQL: partitions by retention class and time held per history table (attempts, deliveries), as of the latest retention run',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    historyPartitionOldest: new Gauge({
      name: 'escalatr_history_partition_oldest_start_timestamp_seconds',
      help: 'PostgreSQL: start of the oldest partition held per history table, as of the latest retention run',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    queueVacuums: new Counter({
      name: 'escalatr_queue_vacuums_total',
      help: "PostgreSQL: vacuums of the queue's tables (deliveries_queue, events) started when their dead row versions passed ESCALATR_QUEUE_VACUUM_DEAD_ROWS",
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    queueAnalyzes: new Counter({
      name: 'escalatr_queue_analyzes_total',
      help: "PostgreSQL: statistics taken of the queue's partition of deliveries (deliveries_queue) when it grew to twice the rows last counted in it",
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    queueVacuumSeconds: new Counter({
      name: 'escalatr_queue_vacuum_seconds_total',
      help: "PostgreSQL: time spent vacuuming the queue's tables",
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    historyPartitionChanges: new Counter({
      name: 'escalatr_history_partition_changes_total',
      help: 'PostgreSQL: partitions of the history tables created ahead and dropped by retention',
      labelNames: ['table', 'change'] as const,
      registers: [registry],
    }),
    storeReads: new Counter({
      name: 'escalatr_store_reads_total',
      help:
        'API reads by the server that answered (replica or primary) and why (routed, no_replica, replica_down, ' +
        'replica_lagging, own_write, replica_behind, replica_failed)',
      labelNames: ['target', 'reason'] as const,
      registers: [registry],
    }),
    // The replica's gauges exist only where DATABASE_READ_URL names one: a process without one has nothing to show.
    replicaUp: new Gauge({
      name: 'escalatr_read_replica_up',
      help: 'DATABASE_READ_URL: 1 while the replica answers its position checks as a streaming standby, else 0',
      registers: sources.replicaLag ? [registry] : [],
      collect() {
        this.set(sources.replicaLag?.() ? 1 : 0);
      },
    }),
    replicaLagSeconds: new Gauge({
      name: 'escalatr_read_replica_lag_seconds',
      help:
        'DATABASE_READ_URL: 0 when the replica has replayed all the primary wrote, else the age of the last commit ' +
        'it replayed (NaN while it is down)',
      registers: sources.replicaLag ? [registry] : [],
      collect() {
        this.set(sources.replicaLag?.()?.seconds ?? NaN);
      },
    }),
    replicaLagBytes: new Gauge({
      name: 'escalatr_read_replica_lag_bytes',
      help: 'DATABASE_READ_URL: WAL bytes the primary wrote that the replica has not replayed (NaN while it is down)',
      registers: sources.replicaLag ? [registry] : [],
      collect() {
        this.set(sources.replicaLag?.()?.bytes ?? NaN);
      },
    }),
    // Only on PostgreSQL.
    pgUnansweredClosed: new Counter({
      name: 'escalatr_pg_unanswered_connections_closed_total',
      help:
        'PostgreSQL: pooled connections closed because a query on them went unanswered while their session on the ' +
        'server was not working on it (the network lost the connection), by server: primary or replica',
      labelNames: ['server'] as const,
      registers: sources.pgUnansweredClosed ? [registry] : [],
      collect() {
        const closed = sources.pgUnansweredClosed?.();
        if (!closed) return;
        // The pools' watches keep the counts; the counter shows them as of this scrape.
        this.reset();
        this.inc({ server: 'primary' }, closed.primary);
        this.inc({ server: 'replica' }, closed.replica);
      },
    }),
    // Only where SQLite's WAL is checkpointed on its own thread (the service on SQLite).
    walCheckpoints: new Counter({
      name: 'escalatr_sqlite_wal_checkpoints_total',
      help: "Checkpoints of SQLite's WAL run by the checkpoint thread, by outcome: done or failed",
      labelNames: ['outcome'] as const,
      registers: sources.walCheckpoints ? [registry] : [],
      collect() {
        const stats = sources.walCheckpoints?.();
        if (!stats) return;
        // The thread keeps the counts; the counter shows them as of this scrape.
        this.reset();
        this.inc({ outcome: 'done' }, stats.checkpoints);
        this.inc({ outcome: 'failed' }, stats.failures);
      },
    }),
    walFrames: new Gauge({
      name: 'escalatr_sqlite_wal_frames',
      help: "Pages in SQLite's WAL at the checkpoint thread's latest checkpoint: growing from scrape to scrape, a reader keeps the WAL from restarting",
      registers: sources.walCheckpoints ? [registry] : [],
      collect() {
        const stats = sources.walCheckpoints?.();
        if (stats) this.set(stats.walFrames);
      },
    }),
    walCheckpointerUp: new Gauge({
      name: 'escalatr_sqlite_checkpoint_thread_up',
      help: "1 while SQLite's checkpoint thread runs; 0 once it stopped, when commits checkpoint the WAL again",
      registers: sources.walCheckpoints ? [registry] : [],
      collect() {
        this.set(sources.walCheckpoints?.().running ? 1 : 0);
      },
    }),
    commitToFirstAttempt: new Histogram({
      name: 'escalatr_delivery_first_attempt_lag_seconds',
      help: 'From the event commit to the start of its first attempt',
      buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
