import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/runtime/server.js';
import { freePort, runCli } from './processes.js';
import {
  chaosEnv,
  createEndpoint,
  eventually,
  settleAndCount,
  startCountingReceiver,
  startLoad,
  watchReadiness,
  type StoreFaultReport,
} from './load.js';

export interface SqliteFullOptions {
  /** Load before the fault, during it, and after it, in ms. */
  phaseMs: number;
  log?: (line: string) => void;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The embedded store's disk fills up under load: `escalatr serve` runs in this process (so the fault can be set on
 * its own SQLite connection: PRAGMA max_page_count pinned to the current size, so no page can be added), with
 * complaints filed by four producers and a webhook receiver counting deliveries. While the disk is full, writes
 * must be refused with 503 and /readyz must say not ready; once space is back, the service must be ready again by
 * itself, and every acknowledged complaint must be delivered.
 */
export async function runSqliteFullScenario(opts: SqliteFullOptions): Promise<StoreFaultReport> {
  const log = opts.log ?? (() => {});
  const receiver = await startCountingReceiver();
  const dataDir = mkdtempSync(join(tmpdir(), 'escalatr-chaos-full-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = chaosEnv({ dataDir, port, logLevel: 'silent' });
  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  try {
    await runCli(['migrate'], env);
    const demo = JSON.parse(await runCli(['demo', '--json'], env));
    server = await startServer({
      config: loadConfig(env),
      role: 'all',
      logger: createLogger({ level: 'silent' }),
      print: () => {},
    });
    const db = server.runtime.ctx.store.db;
    await createEndpoint(base, demo.api_key, receiver.url);

    const readiness = watchReadiness(base);
    const load = startLoad(base, demo.consumer.token, demo.company.code);
    await pause(opts.phaseMs);

    const pages = Number(Object.values((await sql.raw('pragma page_count').execute(db)).rows[0] as object)[0]);
    await sql.raw(`pragma max_page_count = ${pages}`).execute(db);
    log(`disk full (max_page_count = ${pages}) with ${load.acknowledged.size} complaints acknowledged`);
    const wentNotReady = await eventually(() => readiness.sawNotReady(), opts.phaseMs * 3);
    await pause(opts.phaseMs);

    await sql.raw('pragma max_page_count = 1073741823').execute(db);
    const restoredAt = Date.now();
    log(`space is back after ${load.refused503()} writes were refused with 503`);
    const recovered = await eventually(() => readiness.ready() && readiness.readyAgainAt() !== null, 30_000);
    const readyAt = readiness.readyAgainAt();
    await pause(opts.phaseMs);
    await load.stop();
    await readiness.stop();

    const counts = await settleAndCount(base, demo.api_key, receiver, load.acknowledged);
    return {
      scenario: 'sqlite: disk full mid-load (in-process serve)',
      sent: load.sent(),
      acknowledged: load.acknowledged.size,
      refused_503: load.refused503(),
      other_errors: load.otherErrors().length,
      ...counts,
      went_not_ready: wentNotReady,
      recovered,
      recovery_s: recovered && readyAt ? Math.max(0, Math.round((readyAt - restoredAt) / 100) / 10) : null,
    };
  } finally {
    await server?.stop();
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
