import { serve } from '../lib/rpc.js';
import { epochMs, peakRssMb } from '../lib/time.js';
import { deliver, messages, newAgent } from '../peers/deliver.js';

/**
 * The raw limit: the same signing and the same undici POST as every other sender, with no store and no queue,
 * `concurrency` requests in flight. Whatever this reaches is the ceiling the receiver and the machine allow. Several
 * of these processes blast at once when the ceiling is measured at the process count of a multi-process system.
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
  return { count: list.length, startedAt, endedAt: epochMs() };
}

serve(
  {
    /** A small blast first, so that connections and code paths are warm when the measured one starts. */
    async warm(args: { url: string; events: number; fanout: number; concurrency: number }) {
      await blast(args.url, args.events, args.fanout, args.concurrency);
      return null;
    },
    async blast(args: { url: string; events: number; fanout: number; concurrency: number }) {
      return { ...(await blast(args.url, args.events, args.fanout, args.concurrency)), peakRssMb: peakRssMb() };
    },
  },
  () => agent.close(),
);
