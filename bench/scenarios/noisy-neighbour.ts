import { join } from 'node:path';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import type { BenchChild } from '../lib/rpc.js';
import { createDatabase, pgUnavailable } from '../lib/services.js';
import { percentile, sleep } from '../lib/time.js';

/**
 * Noisy neighbour: company B has one healthy endpoint and files complaints at a steady `noisyRate` per second;
 * company A has 50 endpoints that never answer (each attempt hangs until the endpoint's timeout, 1 s: the shortest
 * an endpoint may set) and a backlog of `noisyBacklogEvents` events (50 deliveries each) due before B's. Measured:
 * B's commit → first-attempt p99 while A's backlog is worked, and B's delivered rate against the same run with A
 * idle (its endpoints there, no events). SQLite: one process, producer and worker. PostgreSQL: a producer process
 * and two worker processes, woken by NOTIFY.
 */

const A_ENDPOINTS = 50;
const A_TIMEOUT_MS = 1000;

interface Tenant {
  companyId: string;
  code: string;
  consumerId: string;
}
interface Paced {
  commits: Array<[string, number]>;
  failures: number;
  achievedPerSecond: number;
}

/** Seeds A (hanging endpoints) and B (one healthy endpoint); the producer is left filing for B. */
async function seed(ctx: BenchContext, producer: BenchChild): Promise<{ a: Tenant[]; b: Tenant[] }> {
  const hang = Array.from({ length: A_ENDPOINTS }, (_, i) => ({
    url: `${ctx.receiverUrl}/hang/${i}`,
    timeoutMs: A_TIMEOUT_MS,
  }));
  const a = (await producer.call<{ tenants: Tenant[] }>('seed', { code: 'NOISA', endpoints: hang })).tenants;
  const b = (
    await producer.call<{ tenants: Tenant[] }>('seed', { code: 'NOISB', endpoints: [{ url: `${ctx.receiverUrl}/b` }] })
  ).tenants;
  return { a, b };
}

/** B at its steady rate: p99 of commit → first arrival, and the delivered rate over the window. */
async function measureB(ctx: BenchContext, producer: BenchChild, label: string) {
  const { plan } = ctx;
  await ctx.receiver.call('reset', { track: true });
  await producer.call('pace', { rate: plan.noisyRate, seconds: 1 });
  await ctx.receiver.call('reset', { track: true });
  const paced = await producer.call<Paced>('pace', { rate: plan.noisyRate, seconds: plan.noisySeconds });
  await ctx.receiver.call<number>('waitForIds', { ids: paced.commits.map(([id]) => id), timeoutMs: 15_000 });
  const arrivals = new Map(await ctx.receiver.call<Array<[string, number]>>('arrivals'));
  const latencies: number[] = [];
  let first = Infinity;
  let last = -Infinity;
  for (const [id, committedAt] of paced.commits) {
    first = Math.min(first, committedAt);
    const at = arrivals.get(id);
    if (at === undefined) continue;
    latencies.push(at - committedAt);
    last = Math.max(last, at);
  }
  latencies.sort((x, y) => x - y);
  const perSecond = latencies.length ? (latencies.length / Math.max(1, last - first)) * 1000 : 0;
  const p99 = percentile(latencies, 99);
  const stats = await ctx.receiver.call<{ hung: number }>('stats');
  ctx.log(
    `noisy neighbour (${label}): B p99 ${p99?.toFixed(1)} ms, p50 ${percentile(latencies, 50)?.toFixed(1)} ms, ${Math.round(perSecond)} deliveries/s of ${plan.noisyRate} offered (${Math.round(paced.achievedPerSecond)} committed/s); ${stats.hung} of A's attempts hung meanwhile`,
  );
  return {
    p99,
    perSecond,
    details: {
      events: paced.commits.length,
      delivered: latencies.length,
      commit_failures: paced.failures,
      // Below the offered rate when the store cannot take B's commits that fast: the delivered rate follows it.
      achieved_commits_per_s: Math.round(paced.achievedPerSecond),
      p50_ms: percentile(latencies, 50),
      p90_ms: percentile(latencies, 90),
      max_ms: latencies.at(-1) ?? null,
      delivered_per_s: Math.round(perSecond),
      a_attempts_hung: stats.hung,
    },
  };
}

/** B with A idle, then A's backlog committed and its hanging attempts under way, then B again. */
async function run(ctx: BenchContext, producer: BenchChild, workers: BenchChild[], label: string) {
  const { a, b } = await seed(ctx, producer);
  await Promise.all(workers.map((w) => w.call('workerStart')));
  const idle = await measureB(ctx, producer, `${label}, A idle`);
  await Promise.all(workers.map((w) => w.call('workerStop')));
  await producer.call('useTenants', { tenants: a });
  await producer.call('commit', { count: ctx.plan.noisyBacklogEvents, parallel: 4 });
  await producer.call('useTenants', { tenants: b });
  await ctx.receiver.call('reset');
  await Promise.all(workers.map((w) => w.call('workerStart')));
  // A's attempts take their slots and start timing out before B is measured.
  await sleep(1500);
  const noisy = await measureB(ctx, producer, `${label}, A's backlog hanging`);
  await Promise.all(workers.map((w) => w.call('workerStop')));
  const drop = idle.perSecond > 0 ? Math.max(0, 1 - noisy.perSecond / idle.perSecond) : null;
  return {
    p99: noisy.p99,
    drop,
    details: {
      a_endpoints: A_ENDPOINTS,
      a_endpoint_timeout_ms: A_TIMEOUT_MS,
      a_backlog_events: ctx.plan.noisyBacklogEvents,
      a_backlog_deliveries: ctx.plan.noisyBacklogEvents * A_ENDPOINTS,
      b_offered_per_s: ctx.plan.noisyRate,
      a_idle: idle.details,
      a_noisy: noisy.details,
    },
  };
}

export async function noisyNeighbour(ctx: BenchContext): Promise<ScenarioResult> {
  const values: Record<string, number | null> = {};
  const skipped: Record<string, string> = {};
  const details: Record<string, unknown> = {};

  const sut = await ctx.child('processes/escalatr', 'noisy-sqlite');
  await sut.call('open', {
    store: { kind: 'sqlite', file: join(ctx.tempDir(), 'noisy.db') },
    masterKeyHex: ctx.masterKeyHex,
    migrate: true,
  });
  const s = await run(ctx, sut, [sut], 'sqlite');
  await sut.close();
  values.noisy_neighbour_p99_ms = s.p99;
  values.noisy_neighbour_drop = s.drop;
  details.sqlite = s.details;

  const pgReason = await pgUnavailable();
  if (pgReason) {
    values.noisy_neighbour_pg2_p99_ms = null;
    values.noisy_neighbour_pg2_drop = null;
    skipped.noisy_neighbour_pg2_p99_ms = pgReason;
    skipped.noisy_neighbour_pg2_drop = pgReason;
    return { values, skipped, details };
  }
  const db = await createDatabase('escalatr_noisy');
  const children: BenchChild[] = [];
  try {
    const store = { kind: 'pg', url: db.url };
    const producer = await ctx.child('processes/escalatr', 'noisy-pg-producer');
    children.push(producer);
    // The producer stands in for the API servers (two processes' pools), as in the latency run.
    await producer.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: true, poolSize: 20 });
    const workers: BenchChild[] = [];
    for (const n of [1, 2]) {
      const w = await ctx.child('processes/escalatr', `noisy-pg-worker-${n}`);
      children.push(w);
      await w.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: false });
      workers.push(w);
    }
    const p = await run(ctx, producer, workers, 'postgres, 2 workers');
    values.noisy_neighbour_pg2_p99_ms = p.p99;
    values.noisy_neighbour_pg2_drop = p.drop;
    details.pg2 = p.details;
  } finally {
    await Promise.all(children.map((c) => c.close().catch(() => undefined)));
    await db.drop().catch(() => undefined);
  }
  return { values, skipped, details };
}
