import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort, kill9, runCli, startCli, until, waitReady, type Proc } from './processes.js';

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

/** A receiver that answers after a random short delay, so deliveries are in flight when a process dies. */
async function startCountingReceiver() {
  const seen = new Map<string, number>();
  const createdIds = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        seen.set(body.id, (seen.get(body.id) ?? 0) + 1);
        if (body.event === 'complaint.created') createdIds.add(body.data.escalatr_id);
      } catch {
        // not ours
      }
      setTimeout(() => res.end('ok'), Math.floor(Math.random() * 30));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/hook`, seen, createdIds, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function createDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `escalatr_chaos_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
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
  const env: NodeJS.ProcessEnv = {
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    ESCALATR_MASTER_KEY: randomBytes(32).toString('hex'),
    ESCALATR_ALLOW_HTTP_WEBHOOKS: 'true',
    ESCALATR_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    ESCALATR_LEASE_MS: '5000',
    ESCALATR_RETRY_SCHEDULE: '1s,1s,2s,5s,10s',
    DATABASE_URL: db?.url ?? '',
  };
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
    const ep = await fetch(`${base}/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, events: ['*'] }),
    });
    if (ep.status !== 201) throw new Error(`creating the endpoint failed: ${ep.status} ${await ep.text()}`);

    let sent = 0;
    const acknowledged = new Set<string>();
    let producing = true;
    const producer = async () => {
      while (producing) {
        sent++;
        try {
          const r = await fetch(`${base}/api/consumer/v1/complaints`, {
            method: 'POST',
            headers: { authorization: `Bearer ${consumerToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ company_code: companyCode, complaint_category: 'Chaos', title: `load ${sent}`, description: 'steady load during kills' }),
          });
          if (r.status === 201) acknowledged.add((await r.json()).data.escalatr_id);
        } catch {
          await new Promise((r) => setTimeout(r, 50)); // the server is restarting
        }
      }
    };
    const producers = Array.from({ length: 4 }, producer);

    // The process to kill: on SQLite the server itself; on PostgreSQL one of the two workers in turn.
    for (let k = 0; k < opts.kills; k++) {
      await new Promise((r) => setTimeout(r, opts.intervalMs * (0.5 + Math.random())));
      const victim = opts.dialect === 'postgres' ? 1 + (k % 2) : 0;
      log(`kill -9 ${roles[victim].join(' ')} (${k + 1}/${opts.kills}) with ${acknowledged.size} complaints acknowledged`);
      await kill9(procs[victim]);
      start(victim);
      if (victim === 0) await waitReady(base);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs / 2));
    producing = false;
    await Promise.all(producers);

    // Everything committed must drain: leases of killed workers run out (5 s here) and retries follow.
    const feedTotal = async (status: string) => {
      const r = await fetch(`${base}/api/v1/events?status=${status}&limit=1`, { headers: { authorization: `Bearer ${apiKey}` } });
      return (await r.json()).total as number;
    };
    let stuck = 0;
    try {
      await until(async () => (await feedTotal('pending')) + (await feedTotal('failed')) === 0, 'all deliveries to settle', 90_000, 250);
    } catch {
      stuck = (await feedTotal('pending')) + (await feedTotal('failed'));
    }
    const allEvents = await fetch(`${base}/api/v1/events?limit=1`, { headers: { authorization: `Bearer ${apiKey}` } }).then((r) => r.json());
    const eventIds: string[] = [];
    for (let page = 1; page <= Math.ceil(allEvents.total / 100); page++) {
      const r = await fetch(`${base}/api/v1/events?limit=100&page=${page}`, { headers: { authorization: `Bearer ${apiKey}` } }).then((x) => x.json());
      // Events from before the endpoint existed (the demo's) have no deliveries: nothing to lose.
      eventIds.push(...r.data.filter((e: { delivery_status: string }) => e.delivery_status !== 'none').map((e: { id: string }) => e.id));
    }
    const lostEvents = eventIds.filter((id) => !receiver.seen.has(id)).length;
    const lostAcked = [...acknowledged].filter((id) => !receiver.createdIds.has(id)).length;
    const deliveredTotal = [...receiver.seen.values()].reduce((a, b) => a + b, 0);
    return {
      scenario: opts.dialect === 'postgres' ? 'postgres: kill -9 a worker (API + 2 workers)' : 'sqlite: kill -9 the server',
      sent,
      acknowledged: acknowledged.size,
      events: eventIds.length,
      delivered: receiver.seen.size,
      duplicated: deliveredTotal - receiver.seen.size,
      lost: Math.max(lostEvents, lostAcked),
      stuck,
      kills: opts.kills,
    };
  } finally {
    await stopAll();
    await receiver.close();
    await db?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
