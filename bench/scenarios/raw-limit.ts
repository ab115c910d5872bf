import type { BenchContext, ScenarioResult } from '../lib/context.js';

/** 1. The ceiling: a bare sender (same signing, same undici POST, no store) against the receiver. */
export async function rawLimit(ctx: BenchContext): Promise<ScenarioResult> {
  const { plan } = ctx;
  const sender = await ctx.child('processes/raw-sender', 'raw-sender');
  await ctx.receiver.call('reset');
  const r = await sender.call<{ count: number; ms: number; perSecond: number; peakRssMb: number }>('run', {
    url: ctx.receiverUrl,
    events: plan.events,
    fanout: plan.fanout,
    concurrency: plan.concurrency,
    warmupEvents: plan.warmupEvents,
  });
  ctx.log(`raw limit: ${r.count} requests in ${Math.round(r.ms)} ms = ${Math.round(r.perSecond)}/s`);
  return { values: { raw_limit_per_s: r.perSecond }, details: { requests: r.count, ms: r.ms, concurrency: plan.concurrency, sender_peak_rss_mb: r.peakRssMb } };
}
