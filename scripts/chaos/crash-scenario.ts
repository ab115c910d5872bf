import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chaosEnv, createDatabase, createEndpoint, settleAndCount, startCountingReceiver, startLoad } from './load.js';
import { freePort, kill9, runCli, startCli, waitReady, type Proc } from './processes.js';

export interface CrashReport {
  scenario: string;
  sent: number;
  acknowledged: number;
  events: number;
  delivered: number;
  duplicated: number;
  lost: number;
  stuck: number;
  kills: number;
}

export interface CrashOptions {
  dialect: 'sqlite' | 'postgres';
  /** How many times a process is killed with SIGKILL while load runs. */
  kills: number;
  /** Load between kills, in ms (randomised ±50%). */
  intervalMs: number;
  /** PostgreSQL base URL (a database is created and dropped for the run). */
  databaseUrl?: string;
  log?: (line: string) => void;
}

/**
 * Files complaints under steady load while processes are killed with SIGKILL and restarted, then checks that every
 * event the store committed reached the receiver at least once. SQLite: the single `serve` process is killed.
 * PostgreSQL: an API process and two worker processes; one worker at a time is killed.
 */
export async function runCrashScenario(opts: CrashOptions): Promise<CrashReport> {
  const log = opts.log ?? (() => {});
  const receiver = await startCountingReceiver();
  const dataDir = mkdtempSync(join(tmpdir(), 'escalatr-chaos-'));
  const db = opts.dialect === 'postgres' ? await createDatabase(opts.databaseUrl!) : null;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = chaosEnv({ dataDir, port, databaseUrl: db?.url });
  const procs: Proc[] = [];
  const stopAll = async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
  };
  try {
    await runCli(['migrate'], env);
    const demo = JSON.parse(await runCli(['demo', '--json'], env));
    const apiKey: string = demo.api_key;
    const consumerToken: string = demo.consumer.token;
    const companyCode: string = demo.company.code;

    const roles = opts.dialect === 'postgres' ? [['serve', '--no-worker'], ['worker'], ['worker']] : [['serve']];
    const start = (i: number) => {
      procs[i] = startCli(roles[i], env);
      return procs[i];
    };
    roles.forEach((_, i) => start(i));
    await waitReady(base);
    await createEndpoint(base, apiKey, receiver.url);
    const load = startLoad(base, consumerToken, companyCode);

    // The process to kill: on SQLite the server itself; on PostgreSQL one of the two workers in turn.
    for (let k = 0; k < opts.kills; k++) {
      await new Promise((r) => setTimeout(r, opts.intervalMs * (0.5 + Math.random())));
      const victim = opts.dialect === 'postgres' ? 1 + (k % 2) : 0;
      log(
        `kill -9 ${roles[victim].join(' ')} (${k + 1}/${opts.kills}) with ${load.acknowledged.size} complaints acknowledged`,
      );
      await kill9(procs[victim]);
      start(victim);
      if (victim === 0) await waitReady(base);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs / 2));
    await load.stop();

    // Everything committed must drain: leases of killed workers run out (5 s here) and retries follow.
    const counted = await settleAndCount(base, apiKey, receiver, load.acknowledged);
    return {
      scenario:
        opts.dialect === 'postgres' ? 'postgres: kill -9 a worker (API + 2 workers)' : 'sqlite: kill -9 the server',
      sent: load.sent(),
      acknowledged: load.acknowledged.size,
      kills: opts.kills,
      ...counted,
    };
  } finally {
    await stopAll();
    await receiver.close();
    await db?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
