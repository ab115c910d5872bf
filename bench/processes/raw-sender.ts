import { serve } from '../lib/rpc.js';
import { epochMs, peakRssMb } from '../lib/time.js';
import { deliver, messages, newAgent } from '../peers/deliver.js';

/**
 * The raw limit: the same signing and the same undici POST as every other sender, with no store and no queue,
 * `concurrency` requests in flight. Whatever this reaches is the ceiling the receiver and the machine allow.
 */
const agent = newAgent();

async function blast(url: string, events: number, fanout: number, concurrency: number) {
  const list = messages(url, events, fanout);
  let next = 0;
  const lane = async () => {
    while (next < list.length) await deliver(agent, list[next++]);
  };
  const startedAt = epochMs();
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { count: list.length, ms: epochMs() - startedAt };
}

serve(
  {
    async run(args: { url: string; events: number; fanout: number; concurrency: number; warmupEvents: number }) {
      await blast(args.url, args.warmupEvents, args.fanout, args.concurrency);
      const r = await blast(args.url, args.events, args.fanout, args.concurrency);
      return { ...r, perSecond: (r.count / r.ms) * 1000, peakRssMb: peakRssMb() };
    },
  },
  () => agent.close(),
);
