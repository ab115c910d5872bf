import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { createCompany } from '../src/domain/companies.js';
import { createConsumerWithToken } from '../src/domain/consumers.js';
import { setRetentionByCode } from '../src/domain/retention.js';
import { buildApp } from '../src/runtime/app.js';
import { openStore } from '../src/storage/db.js';
import { migrateToLatest } from '../src/storage/migrate.js';
import { createEndpoint } from '../src/webhooks/endpoints.js';
import { seedHistory } from './lib/history-seed.js';
import { epochMs } from './lib/time.js';

/**
 * How fast one retention run removes expired delivery history on SQLite: a store seeded with settled history
 * (bench/lib/history-seed.ts, ten endpoints per event as the soak's fan-out), every row older than the company's
 * window, then one run of the retention step with a batch budget; rows removed per second of that run.
 *
 *   npx tsx bench/prune-rate.ts [--attempts=N] [--batches=N] [--batch-rows=N] [--held=N]
 *
 * Prints where the run's time went: its batches (each a write transaction) and the SQLite space given back, with the
 * longest single transaction of each kind. With `--held=N` the N newest deliveries are left pending (a worker far
 * behind): the run notes them as held, and a second run, with none of them settled yet, shows what a run costs
 * while they wait.
 */
const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);

const dir = mkdtempSync(join(tmpdir(), 'escalatr-prune-'));
const file = join(dir, 'store.db');
try {
  const store = openStore({ sqliteFile: file });
  await migrateToLatest(store.db);
  const config = {
    ...loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      ESCALATR_MASTER_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'silent',
    }),
  };
  const app = await buildApp({ config, store, logger: false });
  const ctx = app.ctx;
  const { consumer } = await createConsumerWithToken(ctx, { email: 'prune@example.test', name: 'Prune' });
  const company = await createCompany(ctx, { name: 'Prune Bench', code: 'PRUNE', plan: 'professional' });
  const endpointIds: string[] = [];
  for (let i = 0; i < 10; i++)
    endpointIds.push(
      (
        await createEndpoint(
          ctx,
          company.id,
          { url: `http://127.0.0.1:9/${i}`, events: ['*'] },
          { allowHttp: true, allowCidrs: ['127.0.0.0/8'] },
        )
      ).id,
    );
  const seeded = await seedHistory(store, {
    companies: [{ companyId: company.id, code: 'PRUNE', consumerId: consumer.id, endpointIds }],
    attempts: arg('attempts', 400_000),
    days: 1,
  });
  console.log(`seeded ${seeded.attempts} attempts, ${seeded.deliveries} deliveries in ${seeded.ms} ms`);
  const held = arg('held', 0);
  if (held)
    await store.db
      .updateTable('deliveries')
      .set({ status: 'pending', next_attempt_at: epochMs() + 86_400_000 })
      .where('id', 'in', (eb) => eb.selectFrom('deliveries').select('id').orderBy('id', 'desc').limit(held))
      .execute();
  await setRetentionByCode(ctx, 'PRUNE', { minutes: 2 });
  const { RetentionPruner } = await import('../src/domain/retention-pruner.js');
  const pruner = new RetentionPruner(ctx, {
    maxBatchesPerRun: arg('batches', 100),
    batchRows: arg('batch-rows', 500),
  });
  const started = epochMs();
  const report = await pruner.run();
  const ms = epochMs() - started;

  const rows = Object.values(report.pruned).reduce((a, b) => a + b, 0);
  const round = (timing: object): unknown =>
    Object.fromEntries(
      Object.entries(timing).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v) : round(v as object)]),
    );
  console.log(
    JSON.stringify({
      ms,
      rows,
      rows_per_s: Math.round((rows * 1000) / ms),
      pruned: report.pruned,
      done: report.done,
      timing: round(report.timing),
    }),
  );
  if (held) {
    const again = await pruner.run();
    console.log(
      JSON.stringify({ held_run: { held, ms: Math.round(again.timing.totalMs), timing: round(again.timing) } }),
    );
  }
  await app.http.close();
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
