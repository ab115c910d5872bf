import { createRequire } from 'node:module';
import { Queue, Worker } from 'bullmq';
import { serve } from '../lib/rpc.js';
import { epochMs, peakRssMb } from '../lib/time.js';
import { deliver, messages, newAgent, type Message } from './deliver.js';

/**
 * Peer: the webhook sender a Node team usually builds on BullMQ — one job per (event, endpoint) in a Redis queue,
 * a Worker at concurrency 64 per process (one or more processes on the same queue) whose processor signs and POSTs exactly as ours does (./deliver.ts). Jobs get the
 * product's retry budget (6 attempts, exponential backoff) and completed jobs are kept (BullMQ's default), which
 * is the nearest BullMQ has to a delivery log: the final state, not one row per attempt.
 */

// BullMQ's ESM build cannot load ioredis itself (it needs `require`), so the client is built here and handed over.
// createRequire resolves like CommonJS: from node_modules, or from NODE_PATH.
type Redis = { quit(): Promise<unknown>; disconnect(): void };
const IORedis = createRequire(import.meta.url)('ioredis') as new (url: string, opts: object) => Redis;
const connect = (url: string) => new IORedis(url, { maxRetriesPerRequest: null });

const agent = newAgent();
let queue: Queue | null = null;
let worker: Worker | null = null;
let completed = 0;
let failed = 0;
/** When this process last saw a job completed (BullMQ emits it once the job is marked completed in Redis). */
let lastCompletedAt = 0;
const connections: Redis[] = [];

serve(
  {
    /** `clear`: the first process empties the queue of anything a previous run left. */
    async open(args: { redisUrl: string; name: string; clear: boolean }) {
      const c = connect(args.redisUrl);
      connections.push(c);
      queue = new Queue(args.name, { connection: c as never });
      if (args.clear) await queue.obliterate({ force: true }).catch(() => undefined);
      return null;
    },
    async enqueue(args: { url: string; events: number; fanout: number }) {
      const list = messages(args.url, args.events, args.fanout);
      const startedAt = epochMs();
      for (let i = 0; i < list.length; i += 1000) {
        await queue!.addBulk(
          list.slice(i, i + 1000).map((m) => ({
            name: 'deliver',
            data: m,
            opts: { attempts: 6, backoff: { type: 'exponential', delay: 60_000 } },
          })),
        );
      }
      return { count: list.length, ms: epochMs() - startedAt };
    },
    async start(args: { redisUrl: string; concurrency: number }) {
      completed = 0;
      failed = 0;
      const c = connect(args.redisUrl);
      connections.push(c);
      worker = new Worker(queue!.name, async (job) => deliver(agent, job.data as Message), {
        connection: c as never,
        concurrency: args.concurrency,
      });
      worker.on('completed', () => {
        completed++;
        lastCompletedAt = epochMs();
      });
      worker.on('failed', () => failed++);
      return epochMs();
    },
    progress() {
      return { completed, failed, lastCompletedAt };
    },
    async stop() {
      await worker?.close();
      worker = null;
      return { completed, failed, lastCompletedAt };
    },
    stats() {
      return { peakRssMb: peakRssMb() };
    },
  },
  async () => {
    await worker?.close();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    for (const c of connections) await c.quit().catch(() => c.disconnect());
    await agent.close();
  },
);
