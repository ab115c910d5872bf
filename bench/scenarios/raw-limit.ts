import { median, type BenchContext, type ScenarioResult } from '../lib/context.js';
import { CpuMeter, cpuLine, cpuValues, CPU_PARTS_NO_STORE, medianCpu, type CpuPerDelivery } from '../lib/cpu.js';
import type { BenchChild } from '../lib/rpc.js';

/** Blasts per measurement: a single two-second blast swung by ±25% from run to run on a shared machine. */
const ROUNDS = 3;

/** Sender processes of the ceiling: as many as the most processes our own delivery runs use (PostgreSQL, 2 workers). */
const RAW_SENDERS = 2;

interface Blast {
  perSecond: number;
  count: number;
  peakRssMb: number;
  cpu: CpuPerDelivery | null;
}

/** One blast of `events` × fanout requests split evenly over `senders`, all started together, after a warm-up. */
async function blastWith(ctx: BenchContext, senders: BenchChild[]): Promise<Blast> {
  const { plan } = ctx;
  const args = { url: ctx.receiverUrl, fanout: plan.fanout, concurrency: plan.concurrency };
  await ctx.receiver.call('reset');
  await Promise.all(
    senders.map((s) => s.call('warm', { ...args, events: Math.ceil(plan.warmupEvents / senders.length) })),
  );
  const meter = await CpuMeter.start({ worker: senders.map((s) => s.pid), receiver: [ctx.receiver.pid] });
  const rs = await Promise.all(
    senders.map((s) =>
      s.call<{ count: number; startedAt: number; endedAt: number; peakRssMb: number }>('blast', {
        ...args,
        events: Math.ceil(plan.events / senders.length),
      }),
    ),
  );
  const count = rs.reduce((n, r) => n + r.count, 0);
  const cpu = (await meter?.stop(count)) ?? null;
  const ms = Math.max(...rs.map((r) => r.endedAt)) - Math.min(...rs.map((r) => r.startedAt));
  return { perSecond: (count / ms) * 1000, count, peakRssMb: Math.max(...rs.map((r) => r.peakRssMb)), cpu };
}

/**
 * 1. The ceiling: bare senders (same signing, same undici POST, 64 in flight each, no store) against the receiver,
 * with one process and with `RAW_SENDERS`. The median of three blasts each, the two alternating.
 */
export async function rawLimit(ctx: BenchContext): Promise<ScenarioResult> {
  const senders: BenchChild[] = [];
  for (let i = 0; i < RAW_SENDERS; i++) senders.push(await ctx.child('processes/raw-sender', `raw-sender${i + 1}`));
  const one: Blast[] = [];
  const all: Blast[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    one.push(await blastWith(ctx, senders.slice(0, 1)));
    all.push(await blastWith(ctx, senders));
  }
  const summary = (label: string, blasts: Blast[]) => {
    const perSecond = median(blasts.map((b) => b.perSecond));
    const cpu = medianCpu(blasts.map((b) => b.cpu));
    ctx.log(
      `raw limit, ${label}: ${blasts[0].count} requests per blast, ${blasts.map((b) => Math.round(b.perSecond)).join(' / ')} per s, median ${Math.round(perSecond)}/s${cpuLine(cpu)}`,
    );
    const details = {
      requests_per_blast: blasts[0].count,
      blasts_per_s: blasts.map((b) => Math.round(b.perSecond)),
      cpu_us_per_request: cpu,
      sender_peak_rss_mb: Math.max(...blasts.map((b) => b.peakRssMb)),
    };
    return { perSecond, cpu, details };
  };
  const r1 = summary('1 sender process', one);
  const rN = summary(`${RAW_SENDERS} sender processes`, all);
  return {
    values: {
      raw_limit_per_s: rN.perSecond,
      raw1_limit_per_s: r1.perSecond,
      ...cpuValues('raw', rN.cpu, CPU_PARTS_NO_STORE),
      ...cpuValues('raw1', r1.cpu, CPU_PARTS_NO_STORE),
    },
    details: {
      concurrency_per_process: ctx.plan.concurrency,
      sender_processes: RAW_SENDERS,
      [`senders_${RAW_SENDERS}`]: rN.details,
      senders_1: r1.details,
    },
  };
}
