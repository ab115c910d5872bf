import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { cpuPerDelivery, cpuSnapshot } from '../lib/cpu.js';
import { cpuLine, medianCpu } from './delivery.js';

/** Blasts per measurement: a single two-second blast swung by ±25% from run to run on a shared machine. */
const ROUNDS = 3;

/**
 * 1. The ceiling: a bare sender (same signing, same undici POST, no store) against the receiver. The median of
 * three blasts, each after a small warm-up.
 */
export async function rawLimit(ctx: BenchContext): Promise<ScenarioResult> {
  const { plan } = ctx;
  const sender = await ctx.child('processes/raw-sender', 'raw-sender');
  const rounds: Array<{
    count: number;
    ms: number;
    perSecond: number;
    peakRssMb: number;
    cpu: Record<string, number> | null;
  }> = [];
  const cpuGroups = { pids: { sender: [sender.pid], receiver: [ctx.receiver.pid] }, commands: {} };
  for (let i = 0; i < ROUNDS; i++) {
    await ctx.receiver.call('reset');
    const before = cpuSnapshot(cpuGroups);
    const r = await sender.call<{ count: number; ms: number; perSecond: number; peakRssMb: number }>('run', {
      url: ctx.receiverUrl,
      events: plan.events,
      fanout: plan.fanout,
      concurrency: plan.concurrency,
      warmupEvents: plan.warmupEvents,
    });
    // The blast's own warm-up is inside the call, so its requests are counted too.
    rounds.push({
      ...r,
      cpu: cpuPerDelivery(before, cpuSnapshot(cpuGroups), r.count + plan.warmupEvents * plan.fanout),
    });
  }
  const cpu = medianCpu(rounds.map((r) => r.cpu));
  const sorted = rounds.map((r) => r.perSecond).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  ctx.log(
    `raw limit: ${rounds[0].count} requests per blast, ${sorted.map(Math.round).join(' / ')} per s, median ${Math.round(median)}/s${cpuLine(cpu)}`,
  );
  return {
    values: { raw_limit_per_s: median },
    details: {
      requests_per_blast: rounds[0].count,
      blasts_per_s: rounds.map((r) => Math.round(r.perSecond)),
      cpu_us_per_request: cpu,
      concurrency: plan.concurrency,
      sender_peak_rss_mb: Math.max(...rounds.map((r) => r.peakRssMb)),
    },
  };
}
