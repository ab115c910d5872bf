import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { median, type BenchContext, type ScenarioResult } from '../lib/context.js';
import type { BenchChild } from '../lib/rpc.js';
import { createDatabase, PG_ADMIN_URL, REDIS_URL } from '../lib/services.js';
import { CpuMeter, cpuLine, cpuValues, medianCpu, type CpuParts, type CpuPerDelivery } from '../lib/cpu.js';
import { epochMs, sleep } from '../lib/time.js';

/**
 * 3. Peers, measured exactly like our PostgreSQL runs and at the same process counts (one worker process, then two):
 * a warm-up backlog, then the same backlog of events × fan-out messages enqueued up front, each worker process at
 * concurrency 64 draining it to the same receiver with the same signing; the clock runs from the first worker's
 * start to the last job's completion in any of them.
 */

/** Worker process counts each peer runs at, as ours do (pg1, pg2). */
const PROCESS_COUNTS = [1, 2] as const;

interface Progress {
  completed: number;
  failed: number;
  lastCompletedAt: number;
}

interface Peer {
  /** Opens one worker process's side; the first also clears what a previous run left. */
  open(child: BenchChild, first: boolean): Promise<void>;
  start(child: BenchChild): Promise<number>;
  config: Record<string, unknown>;
  /** The queue's server, for the CPU accounting. */
  store: CpuParts['store'];
}

/** When every one of `total` jobs has been completed by one of `workers`: the latest completion among them. */
async function allCompleted(ctx: BenchContext, workers: BenchChild[], total: number): Promise<number> {
  // Every request has arrived before the last completion can be recorded; polling starts only for that tail.
  await ctx.receiver.call('waitFor', { count: total });
  const deadline = epochMs() + 300_000;
  for (;;) {
    const ps = await Promise.all(workers.map((w) => w.call<Progress>('progress')));
    if (ps.reduce((n, p) => n + p.completed, 0) >= total) return Math.max(...ps.map((p) => p.lastCompletedAt));
    if (epochMs() > deadline) throw new Error(`jobs still not completed after 300 s: ${JSON.stringify(ps)}`);
    await sleep(5);
  }
}

async function runPeer(ctx: BenchContext, name: string, processes: number, peer: Peer) {
  const { plan } = ctx;
  const workers: BenchChild[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      const w = await ctx.child(`peers/${name}`, `${name}${processes}-worker${i + 1}`);
      await peer.open(w, i === 0);
      workers.push(w);
    }
    const [first] = workers;
    const total = plan.events * plan.fanout;

    await ctx.receiver.call('reset');
    await first.call('enqueue', { url: ctx.receiverUrl, events: plan.warmupEvents, fanout: plan.fanout });
    await Promise.all(workers.map((w) => peer.start(w)));
    await allCompleted(ctx, workers, plan.warmupEvents * plan.fanout);
    await Promise.all(workers.map((w) => w.call('stop')));

    // `throughputRounds` backlogs, as for our own runs; the figure is their median.
    const rounds: Array<{
      perSecond: number;
      ms: number;
      enqueueMs: number;
      received: number;
      counts: Progress[];
      cpu: CpuPerDelivery | null;
    }> = [];
    for (let i = 0; i < plan.throughputRounds; i++) {
      const enqueue = await first.call<{ ms: number }>('enqueue', {
        url: ctx.receiverUrl,
        events: plan.events,
        fanout: plan.fanout,
      });
      await ctx.receiver.call('reset');
      const meter = await CpuMeter.start({
        worker: workers.map((w) => w.pid),
        receiver: [ctx.receiver.pid],
        store: peer.store,
      });
      const starts = await Promise.all(workers.map((w) => peer.start(w)));
      const done = await allCompleted(ctx, workers, total);
      const cpu = (await meter?.stop(total)) ?? null;
      const counts = await Promise.all(workers.map((w) => w.call<Progress>('stop')));
      const recv = await ctx.receiver.call<{ total: number }>('stats');
      const ms = done - Math.min(...starts);
      rounds.push({ perSecond: (total / ms) * 1000, ms, enqueueMs: enqueue.ms, received: recv.total, counts, cpu });
    }
    const rss = await Promise.all(workers.map((w) => w.call<{ peakRssMb: number }>('stats').then((s) => s.peakRssMb)));
    const perSecond = median(rounds.map((r) => r.perSecond));
    const cpu = medianCpu(rounds.map((r) => r.cpu));
    ctx.log(
      `${name}, ${processes} worker process(es): ${Math.round(perSecond)} deliveries/s (median of ${rounds.map((r) => Math.round(r.perSecond)).join(', ')})${cpuLine(cpu)}`,
    );
    return {
      perSecond,
      cpu,
      details: {
        deliveries: total,
        worker_processes: processes,
        per_round: rounds.map((r) => Math.round(r.perSecond)),
        cpu_us_per_delivery: cpu,
        drain_ms: rounds.map((r) => Math.round(r.ms)),
        enqueue_ms: rounds.map((r) => Math.round(r.enqueueMs)),
        received_total: rounds.map((r) => r.received),
        completed_per_process: rounds[rounds.length - 1].counts.map((c) => c.completed),
        failed: rounds[rounds.length - 1].counts.reduce((n, c) => n + c.failed, 0),
        worker_peak_rss_mb: rss,
        ...peer.config,
      },
    };
  } finally {
    await Promise.all(workers.map((w) => w.close().catch(() => undefined)));
  }
}

/** Runs a peer at every process count and names its figures `{name}{processes}_…`; `{name}_…` is the one-process one. */
async function atEveryCount(
  ctx: BenchContext,
  name: string,
  peerAt: (processes: number) => Promise<{ peer: Peer; cleanup?: () => Promise<void> }>,
): Promise<ScenarioResult> {
  const values: Record<string, number | null> = {};
  const details: Record<string, unknown> = {};
  for (const processes of PROCESS_COUNTS) {
    const { peer, cleanup } = await peerAt(processes);
    try {
      const r = await runPeer(ctx, name, processes, peer);
      values[`${name}${processes}_deliveries_per_s`] = r.perSecond;
      Object.assign(values, cpuValues(`${name}${processes}`, r.cpu));
      details[`processes_${processes}`] = r.details;
    } finally {
      await cleanup?.();
    }
  }
  values[`${name}_deliveries_per_s`] = values[`${name}1_deliveries_per_s`];
  return { values, details };
}

export function bullmqPeer(ctx: BenchContext): Promise<ScenarioResult> {
  return atEveryCount(ctx, 'bullmq', async () => {
    const name = `escalatr-bench-${randomBytes(4).toString('hex')}`;
    return {
      peer: {
        store: { redis: true },
        config: {
          concurrency_per_process: ctx.plan.concurrency,
          redis: new URL(REDIS_URL).host,
          job_options: 'attempts 6, exponential backoff, completed jobs kept (defaults)',
        },
        open: (c, first) => c.call('open', { redisUrl: REDIS_URL, name, clear: first }).then(() => undefined),
        start: (c) => c.call<number>('start', { redisUrl: REDIS_URL, concurrency: ctx.plan.concurrency }),
      },
    };
  });
}

/** Connections the cluster can still give out, keeping ten for everyone else. */
async function freeConnections(): Promise<number> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    const { rows } = await c.query<{ free: number }>(
      `select current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
              - (select count(*) from pg_stat_activity where backend_type = 'client backend')::int - 10 as free`,
    );
    return rows[0].free;
  } finally {
    await c.end();
  }
}

export function graphilePeer(ctx: BenchContext): Promise<ScenarioResult> {
  return atEveryCount(ctx, 'graphile', async (processes) => {
    const db = await createDatabase('graphile_bench');
    // The pool is sized to the concurrency: with graphile-worker's default of 10, 54 of the 64 jobs would queue for
    // a connection and the peer would look slower than it is. Several processes may not all get that many from the
    // cluster's max_connections; a job holds a connection only to take and to complete it, not while it sends.
    const maxPoolSize = Math.max(10, Math.min(ctx.plan.concurrency, Math.floor((await freeConnections()) / processes)));
    return {
      peer: {
        store: { postgres: db.name },
        config: { concurrency_per_process: ctx.plan.concurrency, max_pool_size: maxPoolSize, version: '0.16.6' },
        // graphile-worker's migrations run once, in the first process, before the others open.
        open: (c) => c.call('open', { url: db.url }).then(() => undefined),
        start: (c) => c.call<number>('start', { concurrency: ctx.plan.concurrency, maxPoolSize }),
      },
      cleanup: () => db.drop().catch(() => undefined),
    };
  });
}
