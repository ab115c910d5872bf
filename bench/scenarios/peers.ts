import { randomBytes } from 'node:crypto';
import { median, type BenchContext, type ScenarioResult } from '../lib/context.js';
import type { BenchChild } from '../lib/rpc.js';
import { createDatabase, REDIS_URL } from '../lib/services.js';
import { cpuPerDelivery, cpuSnapshot } from '../lib/cpu.js';
import { cpuLine, medianCpu } from './delivery.js';

/**
 * 3. Peers, measured exactly like our PostgreSQL runs: a warm-up backlog, then the same backlog of
 * events × fan-out messages enqueued up front, one worker process at concurrency 64 draining it to the same
 * receiver with the same signing; the clock runs from the worker's start to the last job's completion.
 */

interface Peer {
  open(child: BenchChild): Promise<void>;
  start(child: BenchChild): Promise<number>;
  cleanup?(): Promise<void>;
  config: Record<string, unknown>;
  /** The queue's server processes by command name, for the CPU accounting. */
  servers: Record<string, string>;
}

async function runPeer(ctx: BenchContext, name: string, peer: Peer) {
  const { plan } = ctx;
  const child = await ctx.child(`peers/${name}`, name);
  await peer.open(child);
  const total = plan.events * plan.fanout;

  await ctx.receiver.call('reset');
  await child.call('enqueue', { url: ctx.receiverUrl, events: plan.warmupEvents, fanout: plan.fanout });
  await peer.start(child);
  await child.call('waitDone', { count: plan.warmupEvents * plan.fanout });
  await child.call('stop');

  // `throughputRounds` backlogs, as for our own runs; the figure is their median.
  const rounds: Array<{
    perSecond: number;
    ms: number;
    enqueueMs: number;
    received: number;
    counts: Record<string, number>;
    cpu: Record<string, number> | null;
  }> = [];
  const cpuGroups = { pids: { workers: [child.pid], receiver: [ctx.receiver.pid] }, commands: peer.servers };
  for (let i = 0; i < plan.throughputRounds; i++) {
    const enqueue = await child.call<{ ms: number }>('enqueue', {
      url: ctx.receiverUrl,
      events: plan.events,
      fanout: plan.fanout,
    });
    await ctx.receiver.call('reset');
    const cpuBefore = cpuSnapshot(cpuGroups);
    const t0 = await peer.start(child);
    const done = await child.call<number>('waitDone', { count: total });
    const cpu = cpuPerDelivery(cpuBefore, cpuSnapshot(cpuGroups), total);
    const counts = await child.call<Record<string, number>>('stop');
    const recv = await ctx.receiver.call<{ total: number }>('stats');
    const ms = done - t0;
    rounds.push({ perSecond: (total / ms) * 1000, ms, enqueueMs: enqueue.ms, received: recv.total, counts, cpu });
  }
  const stats = await child.call<{ peakRssMb: number }>('stats');
  await child.close();
  const perSecond = median(rounds.map((r) => r.perSecond));
  const cpu = medianCpu(rounds.map((r) => r.cpu));
  ctx.log(
    `${name}: ${Math.round(perSecond)} deliveries/s (median of ${rounds.map((r) => Math.round(r.perSecond)).join(', ')})${cpuLine(cpu)}`,
  );
  return {
    perSecond,
    details: {
      deliveries: total,
      per_round: rounds.map((r) => Math.round(r.perSecond)),
      cpu_us_per_delivery: cpu,
      drain_ms: rounds.map((r) => Math.round(r.ms)),
      enqueue_ms: rounds.map((r) => Math.round(r.enqueueMs)),
      received_total: rounds.map((r) => r.received),
      outcome: rounds[rounds.length - 1].counts,
      peak_rss_mb: stats.peakRssMb,
      ...peer.config,
    },
  };
}

export async function bullmqPeer(ctx: BenchContext): Promise<ScenarioResult> {
  const name = `escalatr-bench-${randomBytes(4).toString('hex')}`;
  const r = await runPeer(ctx, 'bullmq', {
    servers: { redis: 'redis-server' },
    config: {
      concurrency: ctx.plan.concurrency,
      redis: new URL(REDIS_URL).host,
      job_options: 'attempts 6, exponential backoff, completed jobs kept (defaults)',
    },
    open: (c) => c.call('open', { redisUrl: REDIS_URL, name }).then(() => undefined),
    start: (c) => c.call<number>('start', { redisUrl: REDIS_URL, concurrency: ctx.plan.concurrency }),
  });
  return { values: { bullmq_deliveries_per_s: r.perSecond }, details: r.details };
}

export async function graphilePeer(ctx: BenchContext): Promise<ScenarioResult> {
  const db = await createDatabase('graphile_bench');
  try {
    // The pool is sized to the concurrency: with graphile-worker's default of 10, 54 of the 64 jobs would queue for
    // a connection and the peer would look slower than it is.
    const maxPoolSize = ctx.plan.concurrency;
    const r = await runPeer(ctx, 'graphile', {
      servers: { postgres: 'postgres' },
      config: { concurrency: ctx.plan.concurrency, max_pool_size: maxPoolSize, version: '0.16.6' },
      open: (c) => c.call('open', { url: db.url }).then(() => undefined),
      start: (c) => c.call<number>('start', { concurrency: ctx.plan.concurrency, maxPoolSize }),
    });
    return { values: { graphile_deliveries_per_s: r.perSecond }, details: r.details };
  } finally {
    await db.drop().catch(() => undefined);
  }
}
