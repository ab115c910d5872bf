import pg from 'pg';
import { Logger, run, runMigrations, type Runner } from 'graphile-worker';
import { serve } from '../lib/rpc.js';
import { epochMs, peakRssMb } from '../lib/time.js';
import { deliver, messages, newAgent, type Message } from './deliver.js';

/**
 * Peer: the same sender on graphile-worker 0.16 (the last line that runs on Node 20), PostgreSQL-backed like our
 * production mode — one job per (event, endpoint), a runner at concurrency 64 per process (one or more processes on
 * the same database) whose task signs and POSTs exactly as ours does. graphile-worker deletes a job when it succeeds: no record of the attempt is kept.
 */

const agent = newAgent();
let connectionString = '';
let runner: Runner | null = null;
let succeeded = 0;
let failed = 0;
/** When this process last saw a job completed: `job:complete` comes once the job's row is deleted (`job:success`
 * comes before that, while the job is still in the table). */
let lastCompletedAt = 0;

serve(
  {
    async open(args: { url: string }) {
      connectionString = args.url;
      await runMigrations({ connectionString, logger: quietLogger() });
      return null;
    },
    /** Jobs go in through graphile-worker's own batch function, add_jobs(job_spec[]), 1,000 per statement. */
    async enqueue(args: { url: string; events: number; fanout: number }) {
      const list = messages(args.url, args.events, args.fanout);
      const client = new pg.Client({ connectionString });
      await client.connect();
      const startedAt = epochMs();
      try {
        for (let i = 0; i < list.length; i += 1000) {
          await client.query(
            `select count(*) from graphile_worker.add_jobs(
               (select array_agg(row('deliver', p, null, now(), 6, null, 0, null)::graphile_worker.job_spec) from json_array_elements($1::json) p))`,
            [JSON.stringify(list.slice(i, i + 1000))],
          );
        }
      } finally {
        await client.end();
      }
      return { count: list.length, ms: epochMs() - startedAt };
    },
    async start(args: { concurrency: number; maxPoolSize: number }) {
      succeeded = 0;
      failed = 0;
      runner = await run({
        connectionString,
        concurrency: args.concurrency,
        maxPoolSize: args.maxPoolSize,
        noHandleSignals: true,
        logger: quietLogger(),
        taskList: { deliver: async (payload) => deliver(agent, payload as Message) },
      });
      runner.events.on('job:complete', ({ error }) => {
        if (error) return;
        succeeded++;
        lastCompletedAt = epochMs();
      });
      runner.events.on('job:error', () => failed++);
      return epochMs();
    },
    progress() {
      return { completed: succeeded, failed, lastCompletedAt };
    },
    async stop() {
      await runner?.stop();
      runner = null;
      return { completed: succeeded, failed, lastCompletedAt };
    },
    stats() {
      return { peakRssMb: peakRssMb() };
    },
  },
  async () => {
    await runner?.stop();
    await agent.close();
  },
);

/** graphile-worker logs every job at info; the bench keeps only errors. */
function quietLogger(): Logger {
  return new Logger(() => (level, message) => {
    if (level === 'error') process.stderr.write(`graphile-worker: ${message}\n`);
  });
}
