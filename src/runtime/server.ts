import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildHttpApp } from '../app.js';
import { ConfigError, type Config } from '../config.js';
import { BoundedLogWriter, createLogger } from '../logger.js';
import { keyOpens, sampleSealedValue, WRONG_MASTER_KEY } from '../security/master-key-check.js';
import { openStore } from '../storage/db.js';
import { migrateToLatest } from '../storage/migrate.js';
import { unansweredQueryLog } from '../storage/pg-unanswered-queries.js';
import { startBackgroundWork, type BackgroundWork } from './background.js';
import { seedDemo } from './demo-seed.js';
import { limitHeapGrowth } from './heap-growth.js';
import { announceFirstStart } from './first-start.js';
import { startOpsListener } from './ops-listener.js';
import { createRuntime, type Runtime } from './runtime.js';
import { startTelemetry, type Telemetry } from './telemetry.js';

/**
 * 'all': API + dashboard + background work. 'api': HTTP only. 'worker': background work only — the SLA scheduler,
 * the Shield processor (scores feedback, raises alerts) and the delivery worker; it builds no HTTP routes.
 */
type ServerRole = 'all' | 'api' | 'worker';

/**
 * The longest a graceful stop may take before the process exits anyway: longer than the longest delivery attempt
 * (30 s), so attempts under way normally finish and their results are recorded.
 */
const SHUTDOWN_LIMIT_MS = 40_000;
/** How long the last log lines may wait for a slow log reader at exit. */
const LOG_DRAIN_MS = 2_000;

export interface StartServerOptions {
  config: Config;
  role: ServerRole;
  logger?: Logger;
  /** Stop cleanly on SIGINT/SIGTERM and exit (the CLI); tests that embed the server pass false. */
  handleSignals?: boolean;
  /** Where the human-readable start-up lines go. */
  print?: (line: string) => void;
  /** Whether stdout is a terminal (the first start shows credentials there); process.stdout's own answer if absent. */
  stdoutIsTty?: boolean;
}

export interface RunningServer {
  runtime: Runtime;
  /** The API's HTTP app, or null for a worker. */
  http: FastifyInstance | null;
  /** The address the API listens on, or null for a worker. */
  url: string | null;
  /** The address of the separate metrics listener (METRICS_LISTEN), or null. */
  metricsUrl: string | null;
  stop(): Promise<void>;
}

/** 0.0.0.0 and :: are where we listen, not where a browser can go: show localhost instead. */
function displayUrl(address: AddressInfo): string {
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  const host = wildcard ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * Starts the service: opens and migrates the store, builds the runtime, starts the background work (roles 'all'
 * and 'worker') and the HTTP app on HOST:PORT (roles 'all' and 'api'), and the metrics listener when configured.
 * The start that creates the schema (a fresh data dir or database) also creates the demo company and tells how to
 * log in; run `escalatr migrate` first to start with an empty store.
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { config, role } = opts;
  limitHeapGrowth(config.heapGrowthPercent);
  const print = opts.print ?? ((line: string) => process.stdout.write(line + '\n'));
  const logWriter = opts.logger ? null : new BoundedLogWriter(process.stdout);
  const logger = opts.logger ?? createLogger({ level: config.logLevel, destination: logWriter! });
  const store = openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    backgroundCheckpoints: {
      onLost: (err) => logger.warn({ err }, 'the SQLite checkpoint thread stopped; commits checkpoint the WAL again'),
    },
    unanswered: unansweredQueryLog(logger, 'primary'),
  });
  let http: FastifyInstance | null = null;
  let opsListener: FastifyInstance | null = null;
  let background: BackgroundWork | null = null;
  let runtime: Runtime | null = null;
  let keepAlive: NodeJS.Timeout | null = null;
  let telemetry: Telemetry | null = null;

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      if (keepAlive) clearInterval(keepAlive);
      // New requests stop first; background work then finishes its current step; the store closes last.
      await http?.close().catch((err) => logger.error({ err }, 'closing the HTTP server failed'));
      await background?.stop();
      await opsListener?.close().catch((err) => logger.error({ err }, 'closing the metrics listener failed'));
      await runtime?.reads.close().catch((err) => logger.error({ err }, 'closing the read replica failed'));
      // After the background work, so the spans of the last attempts are sent.
      await telemetry?.shutdown().catch((err) => logger.error({ err }, 'stopping OpenTelemetry failed'));
      await store.close().catch((err) => logger.error({ err }, 'closing the store failed'));
      logger.info({ role }, 'stopped');
    })();
    return stopping;
  };

  try {
    // Before anything writes: an event written with tracing on carries its trace context to the worker.
    telemetry = await startTelemetry(process.env, logger);
    const applied = await migrateToLatest(store.db);
    if (applied.length) logger.info({ migrations: applied }, 'migrated the store');
    // A store restored without its master key would start, then fail every delivery: refuse now, and say why.
    const sealed = await sampleSealedValue(store.db);
    if (sealed !== null && !keyOpens(config.masterKey, sealed))
      throw new ConfigError('ESCALATR_MASTER_KEY', WRONG_MASTER_KEY);
    runtime = createRuntime({
      // Only the API reads from a replica: a worker opens none (it reads and writes the primary).
      config: role === 'worker' ? { ...config, databaseReadUrl: null } : config,
      store,
      logger,
      logLinesDropped: logWriter ? () => logWriter.dropped : undefined,
    });
    runtime.reads.start();

    const demo = role !== 'worker' && applied.includes('0001_init') ? await seedDemo(runtime.ctx) : null;

    if (role !== 'api') background = await startBackgroundWork(runtime, logger);

    let metricsUrl: string | null = null;
    if (config.metricsListen) {
      opsListener = await startOpsListener(runtime, config.metricsListen, logger);
      metricsUrl = displayUrl(opsListener.server.address() as AddressInfo);
    }

    let url: string | null = null;
    if (role === 'worker') {
      // The loops' timers do not hold the process open; a worker process must stay up until signalled.
      keepAlive = setInterval(() => {}, 1 << 30);
      print(`Escalatr worker running (store: ${store.profile.name}).`);
    } else {
      http = await buildHttpApp({ ...runtime, logger, tracing: telemetry?.fastifyPlugin });
      await http.listen({ port: config.port, host: config.host });
      url = displayUrl(http.server.address() as AddressInfo);
      print(`Escalatr is listening on ${url} (role: ${role}, store: ${store.profile.name}).`);
      if (demo?.created) {
        announceFirstStart(demo, url, {
          dataDir: config.dataDir,
          stdoutIsTty: opts.stdoutIsTty ?? process.stdout.isTTY === true,
          print,
        });
      }
    }
    if (metricsUrl) print(`Metrics on ${metricsUrl}/metrics.`);

    if (opts.handleSignals) installSignalHandlers(stop, logger, logWriter);
    return { runtime, http, url, metricsUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The first SIGINT/SIGTERM stops gracefully, within SHUTDOWN_LIMIT_MS; a second one while stopping exits at once.
 * Nothing on the way out waits on the log's reader for longer than LOG_DRAIN_MS.
 */
function installSignalHandlers(stop: () => Promise<void>, logger: Logger, logWriter: BoundedLogWriter | null): void {
  let signalled = false;
  const exit = (code: number) => {
    const drained = logWriter ? logWriter.drain(LOG_DRAIN_MS) : Promise.resolve();
    void drained.then(() => process.exit(code));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(1);
    signalled = true;
    logger.info({ signal }, 'stopping');
    const limit = setTimeout(() => {
      logger.error({ limit_ms: SHUTDOWN_LIMIT_MS }, 'stopping took too long; exiting');
      exit(1);
    }, SHUTDOWN_LIMIT_MS);
    limit.unref();
    stop().then(
      () => exit(0),
      () => exit(1),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
