import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildApp, type App } from './app.js';
import type { Config } from './config.js';
import { createLogger } from './logger.js';
import { openStore } from './storage/db.js';
import { migrateToLatest } from './storage/migrate.js';
import { startDeliveryWorker, type RunningWorker } from './webhooks/worker.js';
import { defaultTargets } from './webhooks/target-registry.js';
import { ShieldProcessor } from './shield/processor.js';
import { ScoringPool } from './shield/scoring-pool.js';
import { demoText, seedDemo } from './cli/demo-seed.js';

/**
 * 'all': API + dashboard + background work. 'api': HTTP only. 'worker': background work only — the SLA scheduler,
 * the Shield processor (scores feedback, raises alerts) and the delivery worker.
 */
export type ServerRole = 'all' | 'api' | 'worker';

export interface StartServerOptions {
  config: Config;
  role: ServerRole;
  logger?: Logger;
  /** Stop cleanly on SIGINT/SIGTERM and exit (the CLI); tests that embed the server pass false. */
  handleSignals?: boolean;
  /** Where the human-readable start-up lines go. */
  print?: (line: string) => void;
}

export interface RunningServer {
  app: App;
  /** The address the API listens on, or null for a worker. */
  url: string | null;
  stop(): Promise<void>;
}

/** 0.0.0.0 and :: are where we listen, not where a browser can go: show localhost instead. */
function displayUrl(address: AddressInfo): string {
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  const host = wildcard ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * Starts the service: opens and migrates the store, builds the app, starts the background work (roles 'all' and
 * 'worker') and listens on HOST:PORT (roles 'all' and 'api').
 * The start that creates the schema (a fresh data dir or database) also creates the demo company and prints how
 * to log in; run `escalatr migrate` first to start with an empty store.
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { config, role } = opts;
  const print = opts.print ?? ((line: string) => process.stdout.write(line + '\n'));
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  const store = openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  let app: App | null = null;
  let worker: RunningWorker | null = null;
  let shield: ShieldProcessor | null = null;
  let scoring: ScoringPool | null = null;
  let keepAlive: NodeJS.Timeout | null = null;

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      if (keepAlive) clearInterval(keepAlive);
      // New requests stop first; background work then finishes its current step; the store closes last.
      await app?.http.close().catch((err) => logger.error({ err }, 'closing the HTTP server failed'));
      await app?.scheduler.stop().catch((err) => logger.error({ err }, 'stopping the scheduler failed'));
      await shield?.stop().catch((err) => logger.error({ err }, 'stopping the Shield processor failed'));
      await scoring?.close().catch((err) => logger.error({ err }, 'stopping the scoring threads failed'));
      await worker?.stop().catch((err) => logger.error({ err }, 'stopping the delivery worker failed'));
      await store.close().catch((err) => logger.error({ err }, 'closing the store failed'));
      logger.info({ role }, 'stopped');
    })();
    return stopping;
  };

  try {
    const applied = await migrateToLatest(store.db);
    if (applied.length) logger.info({ migrations: applied }, 'migrated the store');
    app = await buildApp({ config, store, logger });

    const demo = role !== 'worker' && applied.includes('0001_init') ? await seedDemo(app.ctx) : null;

    if (role !== 'api') {
      app.scheduler.start();
      scoring = new ScoringPool(config.shieldThreads);
      shield = new ShieldProcessor(app.ctx, {
        log: logger,
        pool: scoring,
        companyInFlight: config.shieldCompanyInFlight,
      });
      shield.start();
      const http = app.http;
      worker = await startDeliveryWorker({
        ctx: app.ctx,
        config,
        targets: defaultTargets(),
        log: logger,
        metrics: app.metrics,
        onStoreError: (err) => http.storeAvailability.noteError(err),
      });
    }

    let url: string | null = null;
    if (role === 'worker') {
      await app.http.ready();
      // The scheduler's timer does not hold the process open; a worker process must stay up until signalled.
      keepAlive = setInterval(() => {}, 1 << 30);
      print(`Escalatr worker running (store: ${store.profile.name}).`);
    } else {
      await app.http.listen({ port: config.port, host: config.host });
      url = displayUrl(app.http.server.address() as AddressInfo);
      print(`Escalatr is listening on ${url} (role: ${role}, store: ${store.profile.name}).`);
      if (demo?.created) print(['', 'First start:', ...demoText(demo, url), ''].join('\n'));
    }

    if (opts.handleSignals) installSignalHandlers(stop, logger);
    return { app, url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The first SIGINT/SIGTERM stops gracefully; a second one while stopping exits at once. */
function installSignalHandlers(stop: () => Promise<void>, logger: Logger): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(1);
    signalled = true;
    logger.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
