import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, runCli, startCli, waitReady, type Proc } from './processes.js';
import {
  chaosEnv,
  createDatabase,
  createEndpoint,
  eventually,
  settleAndCount,
  startCountingReceiver,
  startLoad,
  watchReadiness,
  type StoreFaultReport,
} from './load.js';

const run = promisify(execFile);

export interface PgRestartOptions {
  /** PostgreSQL base URL of the local server (a database is created and dropped for the run). */
  databaseUrl: string;
  /** Load before the restart and after recovery, in ms. */
  phaseMs: number;
  log?: (line: string) => void;
}

/** The local cluster, as pg_ctlcluster names it: the newest version under /etc/postgresql, cluster "main". */
function localCluster(): { version: string; name: string } {
  const versions = readdirSync('/etc/postgresql').sort((a, b) => Number(a) - Number(b));
  if (!versions.length) throw new Error('no PostgreSQL cluster under /etc/postgresql');
  return { version: versions[versions.length - 1], name: 'main' };
}

async function pgCtl(action: 'restart' | 'start'): Promise<void> {
  const { version, name } = localCluster();
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, action], { timeout: 120_000 });
}

async function pgIsReady(): Promise<boolean> {
  try {
    await run('pg_isready', ['-q', '-h', '127.0.0.1'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Whatever happened, the shared server is left running. */
async function ensurePgRunning(log: (line: string) => void): Promise<void> {
  if (await pgIsReady()) return;
  log('PostgreSQL is not answering; starting it again');
  await pgCtl('start').catch((err) => log(`pg_ctlcluster start failed: ${(err as Error).message}`));
  await eventually(pgIsReady, 60_000, 500);
}

/**
 * The machine's PostgreSQL server is restarted while `escalatr serve` (API, scheduler and delivery worker in one
 * process) takes steady load. The process must survive it, /readyz must answer 503 while the server is down and
 * 200 again by itself once it is back, writes in between must be refused with 503 (never 500), and every
 * acknowledged complaint must be delivered: lost 0, stuck 0.
 *
 * This restarts a server other work may be using: it runs only in the full profile of `npm run chaos`, or in the
 * test suite when ESCALATR_CHAOS_PG_RESTART=1.
 */
export async function runPgRestartScenario(
  opts: PgRestartOptions,
): Promise<StoreFaultReport & { server_survived: boolean }> {
  const log = opts.log ?? (() => {});
  const receiver = await startCountingReceiver();
  const dataDir = mkdtempSync(join(tmpdir(), 'escalatr-chaos-pg-'));
  const db = await createDatabase(opts.databaseUrl);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = chaosEnv({ dataDir, port, databaseUrl: db.url });
  let serve: Proc | null = null;
  try {
    await runCli(['migrate'], env);
    const demo = JSON.parse(await runCli(['demo', '--json'], env));
    serve = startCli(['serve'], env);
    await waitReady(base);
    await createEndpoint(base, demo.api_key, receiver.url);

    const readiness = watchReadiness(base);
    const load = startLoad(base, demo.consumer.token, demo.company.code);
    await new Promise((r) => setTimeout(r, opts.phaseMs));

    log(`restarting PostgreSQL with ${load.acknowledged.size} complaints acknowledged`);
    let restartedAt: number;
    try {
      await pgCtl('restart');
    } finally {
      restartedAt = Date.now();
      await ensurePgRunning(log);
    }
    const recovered = await eventually(() => readiness.ready() && readiness.readyAgainAt() !== null, 60_000);
    const readyAt = readiness.readyAgainAt();
    log(
      `PostgreSQL is back; serve ${recovered ? 'is ready again' : 'did NOT become ready'}; ${load.refused503()} writes were refused with 503`,
    );
    await new Promise((r) => setTimeout(r, opts.phaseMs));
    await load.stop();
    await readiness.stop();
    const survived = serve.child.exitCode === null && serve.child.signalCode === null;
    if (!survived) log(`serve exited during the restart: ${serve.output().slice(-2000)}`);
    for (const e of load.otherErrors().slice(0, 5)) log(`unexpected answer: ${e}`);

    const counts = survived
      ? await settleAndCount(base, demo.api_key, receiver, load.acknowledged)
      : { events: 0, delivered: receiver.seen.size, duplicated: 0, lost: load.acknowledged.size, stuck: 0 };
    return {
      scenario: 'postgres: server restarted mid-load (serve)',
      sent: load.sent(),
      acknowledged: load.acknowledged.size,
      refused_503: load.refused503(),
      other_errors: load.otherErrors().length,
      ...counts,
      went_not_ready: readiness.sawNotReady(),
      recovered,
      recovery_s: recovered && readyAt ? Math.max(0, Math.round((readyAt - restartedAt) / 100) / 10) : null,
      server_survived: survived,
    };
  } finally {
    await ensurePgRunning(log);
    if (serve && serve.child.exitCode === null) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    await receiver.close();
    await db.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
