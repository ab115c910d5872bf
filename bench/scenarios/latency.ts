import { join } from 'node:path';
import { endpointUrls, type BenchContext, type ScenarioResult } from '../lib/context.js';
import type { BenchChild } from '../lib/rpc.js';
import { createDatabase } from '../lib/services.js';
import { percentile } from '../lib/time.js';

/**
 * 4. Latency from commit to the first attempt's arrival, at a steady offered load: the producer files complaints at
 * `latencyRate` per second through the domain and notes when each commit returned; the receiver notes when each
 * complaint's event first arrived. The events are spread over ten companies with one endpoint each (so the offered
 * delivery rate is the event rate): a platform's 500 events/s come from many tenants, and the commits of one company
 * serialise on its row lock (its event sequence), which caps one company's commit rate on PostgreSQL well below that.
 * SQLite: producer and worker in one process (`escalatr serve`), woken in-process after each commit.
 * PostgreSQL: a producer process and a worker process, woken by NOTIFY.
 */

const COMPANIES = 10;

interface Paced {
  commits: Array<[string, number]>;
  failures: number;
  offered: number;
  achievedPerSecond: number;
}

async function measure(ctx: BenchContext, producer: BenchChild, label: string) {
  const { plan } = ctx;
  // A short warm-up at the same rate, then the measured window.
  await ctx.receiver.call('reset', { track: true });
  await producer.call('pace', { rate: plan.latencyRate, seconds: 1 });
  await ctx.receiver.call('reset', { track: true });
  const paced = await producer.call<Paced>('pace', { rate: plan.latencyRate, seconds: plan.latencySeconds });
  // Let the last deliveries land (bounded: anything slower than 10 s counts as missing).
  await ctx.receiver.call<number>('waitForIds', { ids: paced.commits.map(([id]) => id), timeoutMs: 10_000 });
  const arrivals = new Map(await ctx.receiver.call<Array<[string, number]>>('arrivals'));
  const latencies: number[] = [];
  let missing = 0;
  for (const [id, committedAt] of paced.commits) {
    const at = arrivals.get(id);
    if (at === undefined) missing++;
    else latencies.push(at - committedAt);
  }
  latencies.sort((a, b) => a - b);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  ctx.log(
    `latency (${label}): p50 ${p50?.toFixed(1)} ms, p99 ${p99?.toFixed(1)} ms over ${latencies.length} events at ${Math.round(paced.achievedPerSecond)}/s`,
  );
  return {
    p50,
    p99,
    details: {
      offered_per_s: plan.latencyRate,
      companies: COMPANIES,
      achieved_commits_per_s: Math.round(paced.achievedPerSecond),
      events: paced.commits.length,
      commit_failures: paced.failures,
      missing_after_10s: missing,
      p90_ms: percentile(latencies, 90),
      max_ms: latencies.at(-1) ?? null,
    },
  };
}

export async function sqliteLatency(ctx: BenchContext): Promise<ScenarioResult> {
  const sut = await ctx.child('processes/escalatr', 'sqlite-latency');
  await sut.call('open', {
    store: { kind: 'sqlite', file: join(ctx.tempDir(), 'latency.db') },
    masterKeyHex: ctx.masterKeyHex,
    migrate: true,
  });
  await sut.call('seed', { code: 'LATE', companies: COMPANIES, endpoints: endpointUrls(ctx.receiverUrl, 1) });
  await sut.call('workerStart');
  const r = await measure(ctx, sut, 'sqlite');
  await sut.call('workerStop');
  return { values: { latency_p50_ms: r.p50, latency_p99_ms: r.p99 }, details: r.details };
}

export async function pgLatency(ctx: BenchContext): Promise<ScenarioResult> {
  const db = await createDatabase('escalatr_latency');
  const children: BenchChild[] = [];
  try {
    const store = { kind: 'pg', url: db.url };
    const producer = await ctx.child('processes/escalatr', 'pg-latency-producer');
    children.push(producer);
    // The producer stands in for the API servers: a pool of 20 connections, two API processes' worth (one
    // process's 10 cannot commit 500 complaints a second here: each commit holds its connection through ~9 round
    // trips and a WAL flush).
    await producer.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: true, poolSize: 20 });
    await producer.call('seed', { code: 'LATE', companies: COMPANIES, endpoints: endpointUrls(ctx.receiverUrl, 1) });
    const worker = await ctx.child('processes/escalatr', 'pg-latency-worker');
    children.push(worker);
    await worker.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: false });
    await worker.call('workerStart');
    const r = await measure(ctx, producer, 'postgres');
    await worker.call('workerStop');
    return { values: { latency_pg_p50_ms: r.p50, latency_pg_p99_ms: r.p99 }, details: r.details };
  } finally {
    await Promise.all(children.map((c) => c.close().catch(() => undefined)));
    await db.drop().catch(() => undefined);
  }
}
