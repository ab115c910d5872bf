import type { BenchContext, ScenarioResult } from '../lib/context.js';

/** Blasts per measurement: a single two-second blast swung by ±25% from run to run on a shared machine. */
const ROUNDS = 3;

/**
 * 1. The ceiling: a bare sender (same signing, same undici POST, no store) against the receiver. The median of
 * three blasts, each after a small warm-up.
 */
export async function rawLimit(ctx: BenchContext): Promise<ScenarioResult> {
  const { plan } = ctx;
  const sender = await ctx.child('processes/raw-sender', 'raw-sender');
  const rounds: Array<{ count: number; ms: number; perSecond: number; peakRssMb: number }> = [];
  for (let i = 0; i < ROUNDS; i++) {
    await ctx.receiver.call('reset');
    rounds.push(
      await sender.call('run', { url: ctx.receiverUrl, events: plan.events, fanout: plan.fanout, concurrency: plan.concurrency, warmupEvents: plan.warmupEvents }),
    );
  }
  const sorted = rounds.map((r) => r.perSecond).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  ctx.log(`raw limit: ${rounds[0].count} requests per blast, ${sorted.map(Math.round).join(' / ')} per s, median ${Math.round(median)}/s`);
  return {
    values: { raw_limit_per_s: median },
    details: { requests_per_blast: rounds[0].count, blasts_per_s: rounds.map((r) => Math.round(r.perSecond)), concurrency: plan.concurrency, sender_peak_rss_mb: Math.max(...rounds.map((r) => r.peakRssMb)) },
  };
}
