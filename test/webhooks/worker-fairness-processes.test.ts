import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chaosEnv, createDatabase } from '../../scripts/chaos/load.js';
import { startCli, type Proc } from '../../scripts/chaos/processes.js';
import { buildApp, type App } from '../../src/runtime/app.js';
import { createCompany } from '../../src/domain/companies.js';
import { fileComplaint } from '../../src/domain/complaints.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { openStore, type Store } from '../../src/storage/db.js';
import { migrateToLatest } from '../../src/storage/migrate.js';
import { createEndpoint } from '../../src/webhooks/endpoints.js';
import { DATABASE_URL, testConfig } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Two real `escalatr worker` processes on one PostgreSQL database. Company A's receivers never answer and A has a
 * backlog; company B's one receiver answers at once. Each process may have `COMPANY_CAP` of A's attempts in flight;
 * B's deliveries must arrive while A's attempts are still hanging, not after they time out.
 */
const WORKER_CONCURRENCY = 4;
const COMPANY_CAP = 2;
const A_ENDPOINTS = 6;
const A_EVENTS = 10;
const B_EVENTS = 5;

const COMPLAINT = { complaint_category: 'Billing', title: 'Charged twice', description: 'Twice in March' };

describe.skipIf(!DATABASE_URL)('fairness across two worker processes (PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let store: Store;
  let app: App;
  let dataDir: string;
  let hang: Receiver;
  let healthy: Receiver;
  const workers: Proc[] = [];

  beforeAll(async () => {
    db = await createDatabase(DATABASE_URL!);
    store = openStore({ databaseUrl: db.url, poolSize: 4 });
    await migrateToLatest(store.db);
    const config = testConfig({ allowHttpWebhooks: true, webhookAllowCidrs: ['127.0.0.0/8'] });
    app = await buildApp({ config, store, logger: false });
    dataDir = mkdtempSync(join(tmpdir(), 'escalatr-fair-'));
    hang = await startReceiver({ behaviour: () => 'hang' });
    healthy = await startReceiver();
    const env = {
      ...chaosEnv({ dataDir, port: 0, databaseUrl: db.url }),
      ESCALATR_MASTER_KEY: config.masterKey.toString('hex'),
      ESCALATR_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
      ESCALATR_COMPANY_CONCURRENCY: String(COMPANY_CAP),
      ESCALATR_LEASE_MS: '60000',
    };
    workers.push(startCli(['worker'], env), startCli(['worker'], env));
  }, 60_000);

  afterAll(async () => {
    // The hanging requests end first, so the workers' attempts fail at once and the processes stop promptly.
    await hang?.close();
    await healthy?.close();
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await app?.scheduler.stop();
    await app?.http.close();
    await store?.close();
    await db?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it(
    "B's deliveries all arrive while A's hanging attempts hold their cap in each process",
    { timeout: 90_000 },
    async () => {
      const ctx = app.ctx;
      const guard = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };
      const { consumer } = await createConsumerWithToken(ctx, { email: 'fair@example.test', name: 'Fair' });
      const a = await createCompany(ctx, { name: 'A Corp', code: 'AHANG', plan: 'professional' });
      const b = await createCompany(ctx, { name: 'B Corp', code: 'BFINE', plan: 'professional' });
      for (let i = 0; i < A_ENDPOINTS; i++)
        await createEndpoint(ctx, a.id, { url: `${hang.url}/${i}`, events: ['*'], timeout_ms: 30_000 }, guard);
      await createEndpoint(ctx, b.id, { url: healthy.url, events: ['*'] }, guard);

      // A's backlog, then the moment both processes hold their cap of A's attempts (more would be a fourth, fifth…).
      for (let i = 0; i < A_EVENTS; i++)
        await fileComplaint(ctx, { consumerId: consumer.id, company_code: 'AHANG', ...COMPLAINT });
      await hang.waitFor(2 * COMPANY_CAP);

      for (let i = 0; i < B_EVENTS; i++)
        await fileComplaint(ctx, { consumerId: consumer.id, company_code: 'BFINE', ...COMPLAINT });
      const bArrived = await healthy.waitFor(B_EVENTS);

      // Every one of A's attempts is still hanging (none ended, none was replaced) now that all of B's arrived.
      expect(bArrived).toHaveLength(B_EVENTS);
      expect(hang.requests).toHaveLength(2 * COMPANY_CAP);
      expect(hang.open()).toBe(2 * COMPANY_CAP);

      // Which process sends each of A's hanging attempts: the lease owner of its delivery names the process.
      const keys = hang.requests.map((r) => String(r.headers['idempotency-key']));
      const leased = await store.db
        .selectFrom('deliveries')
        .select(['idempotency_key', 'lease_owner', 'status'])
        .where('idempotency_key', 'in', keys)
        .execute();
      expect(leased).toHaveLength(2 * COMPANY_CAP);
      const perProcess = new Map<string, number>();
      for (const d of leased) {
        expect(d.lease_owner).not.toBeNull();
        const pid = d.lease_owner!.split(':')[1];
        perProcess.set(pid, (perProcess.get(pid) ?? 0) + 1);
      }
      const workerPids = workers.map((w) => String(w.child.pid));
      expect([...perProcess.keys()].sort()).toEqual(workerPids.sort());
      for (const n of perProcess.values()) expect(n).toBe(COMPANY_CAP);
    },
  );
});
