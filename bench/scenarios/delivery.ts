import type { BenchChild } from '../lib/rpc.js';
import { endpointUrls, median, type BenchContext, type ScenarioResult } from '../lib/context.js';
import { createDatabase } from '../lib/services.js';
import { CpuMeter, cpuLine, cpuValues, CPU_PARTS_NO_STORE, medianCpu, type CpuParts } from '../lib/cpu.js';
import { join } from 'node:path';

/**
 * 2. Delivery throughput through the whole product: complaints filed through the domain (each commit writes the
 * complaint, its event and one delivery per endpoint), then worker processes drain that backlog to the receiver.
 * The clock runs from the workers' start until the store shows every delivery settled — every attempt row and every
 * delivery's final state committed, not merely sent. The same backlog mode is used for the peers.
 */

/**
 * The backlog is filed for four companies in turn, each with the same `fanout` endpoints: one company's commits
 * serialise on its row lock (its event sequence), which on PostgreSQL would make committing the backlog the slowest
 * part of the run. The drain does not care whose deliveries they are.
 */
export const COMPANIES = 4;

interface Outcome {
  deliveries: Record<string, number>;
  attempts: number;
  events: number;
}

type Stats = { peakRssMb: number; rssMb: number };

/** Warm every worker's code paths and connections on a small backlog first, then measure the real one. */
export async function warmUp(ctx: BenchContext, producer: BenchChild, workers: BenchChild[]) {
  const { plan } = ctx;
  await ctx.receiver.call('reset');
  await producer.call('commit', { count: plan.warmupEvents });
  await Promise.all(workers.map((w) => w.call('workerStart')));
  await ctx.receiver.call('waitFor', { count: plan.warmupEvents * plan.fanout });
  await workers[0].call('waitSettled');
  await Promise.all(workers.map((w) => w.call('workerStop')));
}

/** `store`: the store's server for the CPU accounting (none for SQLite, whose store is inside the worker). */
export async function drain(
  ctx: BenchContext,
  producer: BenchChild,
  workers: BenchChild[],
  commitParallel: number,
  store?: CpuParts['store'],
) {
  const { plan } = ctx;
  const total = plan.events * plan.fanout;
  const bytesBefore = await producer.call<number>('storeBytes');
  const sinceMs = Date.now();
  await producer.call('sqlTiming', { reset: true });
  const commit = await producer.call<{ perSecond: number; ms: number }>('commit', {
    count: plan.events,
    parallel: commitParallel,
  });
  const commitSql = await producer.call('sqlTiming', { reset: true });
  const bytesCommitted = await producer.call<number>('storeBytes');
  await ctx.receiver.call('reset');
  await Promise.all(workers.map((w) => w.call('sqlTiming', { reset: true })));
  if (ctx.profileDir) await Promise.all(workers.map((w) => w.call('profilePhase', { start: true })));
  const countersBefore = await producer.call<Record<string, number> | null>('storeCounters');
  const meter = await CpuMeter.start({ worker: workers.map((w) => w.pid), receiver: [ctx.receiver.pid], store });
  const starts = await Promise.all(workers.map((w) => w.call<number>('workerStart')));
  const t0 = Math.min(...starts);
  const received = await ctx.receiver.call<number>('waitFor', { count: total });
  const settled = await workers[0].call<number>('waitSettled');
  const cpu = (await meter?.stop(total)) ?? null;
  const countersAfter = await producer.call<Record<string, number> | null>('storeCounters');
  await Promise.all(workers.map((w) => w.call('workerStop')));
  if (ctx.profileDir)
    await Promise.all(
      workers.map((w) => w.call('profilePhase', { file: join(ctx.profileDir!, `${w.name}-drain.cpuprofile`) })),
    );
  const sqlTiming = await Promise.all(workers.map((w) => w.call('sqlTiming', { reset: true })));
  const outcome = await producer.call<Outcome>('outcome', { sinceMs });
  const bytesAfter = await producer.call<number>('storeBytes');
  const recv = await ctx.receiver.call<{ total: number }>('stats');
  const ok = outcome.deliveries.success ?? 0;
  if (ok !== total)
    throw new Error(`expected ${total} successful deliveries, the store shows ${JSON.stringify(outcome.deliveries)}`);
  const ms = settled - t0;
  return {
    perSecond: (total / ms) * 1000,
    /** Deliveries/s counting the filing too: what one process sustains when it both files and delivers them. */
    endToEndPerSecond: (total / (commit.ms + ms)) * 1000,
    details: {
      deliveries: total,
      events: plan.events,
      companies: COMPANIES,
      fanout: plan.fanout,
      drain_ms: Math.round(ms),
      all_received_after_ms: Math.round(received - t0),
      received_total: recv.total,
      duplicates: recv.total - total,
      cpu_us_per_delivery: cpu,
      ...(countersBefore && countersAfter
        ? { store_per_delivery: perDelivery(countersBefore, countersAfter, total) }
        : {}),
      attempts_logged: outcome.attempts,
      commit_events_per_s: Math.round(commit.perSecond),
      store_bytes_per_event_committed: Math.round((bytesCommitted - bytesBefore) / plan.events),
      store_bytes_per_event_delivered: Math.round((bytesAfter - bytesBefore) / plan.events),
      ...(sqlTiming[0] ? { sql_timing: sqlTiming, commit_sql_timing: commitSql } : {}),
    },
    bytesPerEvent: (bytesAfter - bytesBefore) / plan.events,
    cpu,
  };
}

/**
 * How much each store counter moved during the drain, per delivery (PostgreSQL's WAL records, full-page images…);
 * of the tables' and indexes' own buffer hits (`hit.…`), those of at least one per delivery; counts of vacuums
 * (`…_vacuums`) as they are.
 */
function perDelivery(before: Record<string, number>, after: Record<string, number>, deliveries: number) {
  return Object.fromEntries(
    Object.keys(after)
      .map((k) => {
        const moved = after[k] - (before[k] ?? 0);
        return [k, k.endsWith('_vacuums') ? moved : Number((moved / deliveries).toFixed(2))] as const;
      })
      .filter(([k, v]) => !k.startsWith('hit.') || v >= 1),
  );
}

/** `throughputRounds` backlogs drained one after another in the same processes; the figure is their median. */
async function drainRounds<R extends { perSecond: number; cpu: Record<string, number> | null }>(
  ctx: BenchContext,
  once: () => Promise<R>,
) {
  const results: R[] = [];
  for (let i = 0; i < ctx.plan.throughputRounds; i++) results.push(await once());
  const all = results.map((r) => r.perSecond);
  return { perSecond: median(all), all, first: results[0], cpu: medianCpu(results.map((r) => r.cpu)), results };
}

export async function sqliteDelivery(ctx: BenchContext): Promise<ScenarioResult> {
  const file = join(ctx.tempDir(), 'bench.db');
  const sut = await ctx.child('processes/escalatr', 'sqlite');
  const cfg = await sut.call<Record<string, number>>('open', {
    store: { kind: 'sqlite', file },
    masterKeyHex: ctx.masterKeyHex,
    migrate: true,
  });
  await sut.call('seed', {
    code: 'BNCH',
    companies: COMPANIES,
    endpoints: endpointUrls(ctx.receiverUrl, ctx.plan.fanout),
  });
  // What the process holds before any event (code, the app, its schemas): the floor under the peak.
  const idle = await sut.call<Stats>('stats');
  await warmUp(ctx, sut, [sut]);
  const rounds = await drainRounds(ctx, () => drain(ctx, sut, [sut], 1));
  const r = rounds.first;
  const stats = await sut.call<Stats>('stats');
  ctx.log(
    `sqlite: ${Math.round(rounds.perSecond)} deliveries/s (median of ${rounds.all.map(Math.round).join(', ')}), peak RSS ${stats.peakRssMb} MB, ${Math.round(r.bytesPerEvent)} store bytes/event${cpuLine(rounds.cpu)}`,
  );
  return {
    values: {
      sqlite_deliveries_per_s: rounds.perSecond,
      peak_rss_mb: stats.peakRssMb,
      store_bytes_per_event: r.bytesPerEvent,
      ...cpuValues('sqlite', rounds.cpu, CPU_PARTS_NO_STORE),
    },
    details: {
      ...r.details,
      per_round: rounds.all.map(Math.round),
      cpu_us_per_delivery: rounds.cpu,
      processes: 1,
      config: cfg,
      peak_rss_mb: stats.peakRssMb,
      rss_before_work_mb: idle.rssMb,
      memory_after_work: stats,
    },
  };
}

export async function pgDelivery(ctx: BenchContext, workerCount: number): Promise<ScenarioResult> {
  const db = await createDatabase('escalatr_bench');
  const workers: BenchChild[] = [];
  let producer: BenchChild | null = null;
  try {
    producer = await ctx.child('processes/escalatr', `pg-producer`);
    const store = { kind: 'pg', url: db.url };
    await producer.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: true });
    await producer.call('seed', {
      code: 'BNCH',
      companies: COMPANIES,
      endpoints: endpointUrls(ctx.receiverUrl, ctx.plan.fanout),
    });
    let cfg: unknown = null;
    for (let i = 0; i < workerCount; i++) {
      const w = await ctx.child('processes/escalatr', `pg${workerCount}-worker${i + 1}`);
      cfg = await w.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: false });
      workers.push(w);
    }
    await warmUp(ctx, producer, workers);
    const rounds = await drainRounds(ctx, () => drain(ctx, producer!, workers, 8, { postgres: db.name }));
    const rss = await Promise.all(workers.map((w) => w.call<Stats>('stats').then((s) => s.peakRssMb)));
    ctx.log(
      `postgres, ${workerCount} worker process(es): ${Math.round(rounds.perSecond)} deliveries/s (median of ${rounds.all.map(Math.round).join(', ')}), worker peak RSS ${rss.join(', ')} MB${cpuLine(rounds.cpu)}`,
    );
    return {
      values: {
        [`pg${workerCount}_deliveries_per_s`]: rounds.perSecond,
        ...cpuValues(`pg${workerCount}`, rounds.cpu),
      },
      details: {
        ...rounds.first.details,
        per_round: rounds.all.map(Math.round),
        cpu_us_per_delivery: rounds.cpu,
        worker_processes: workerCount,
        config: cfg,
        worker_peak_rss_mb: rss,
      },
    };
  } finally {
    // The processes go before their database does.
    await Promise.all([producer, ...workers].map((c) => c?.close().catch(() => undefined)));
    await db.drop().catch(() => undefined);
  }
}
