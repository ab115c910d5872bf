import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { CompanyLimits, Config } from '../../src/config.js';
import { buildApp, type App } from '../../src/runtime/app.js';
import type { Telemetry } from '../../src/runtime/telemetry.js';
import { openStore, type Store } from '../../src/storage/db.js';
import { migrateToLatest } from '../../src/storage/migrate.js';
import { createCompany } from '../../src/domain/companies.js';
import type { Plan } from '../../src/domain/plans.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { createApiKey, type Scope } from '../../src/domain/api-keys.js';
import type { StaffUser } from '../../src/domain/users.js';
import { hashPassword, type PasswordVerifier } from '../../src/security/passwords.js';
import { newId } from '../../src/ids.js';
import { SCHEMA_NAME_MARK } from './pg-schema-template.js';

/** The suite runs on PostgreSQL when DATABASE_URL is set, else on a fresh SQLite file per test. */
export const DATABASE_URL = process.env.DATABASE_URL || null;
export const dialectName = DATABASE_URL ? 'postgres' : 'sqlite';

async function withSchemaLock<T>(fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: DATABASE_URL! });
  await admin.connect();
  try {
    await admin.query(`select pg_advisory_lock(hashtext('escalatr-test-schemas'))`);
    return await fn(admin);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export interface TestStore {
  store: Store;
  /** Opens another handle to the same database (a second "process" in multi-worker tests). */
  reopen(): Store;
  cleanup(): Promise<void>;
}

/** A fresh, migrated database: a temp SQLite file, or a new PostgreSQL schema (pg-boss style isolation). */
export async function createTestStore(): Promise<TestStore> {
  if (DATABASE_URL) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const opened: Store[] = [];
    const open = () => {
      const s = openStore({ databaseUrl: DATABASE_URL, pgSchema: schema, poolSize: 10 });
      opened.push(s);
      return s;
    };
    const store = open();
    // Kysely's migrator lists the tables of every schema; a schema dropped by a parallel test file in the middle of
    // that listing makes it fail. Creating, migrating and dropping test schemas under one advisory lock avoids it.
    const template = inject('pgSchemaTemplate');
    await withSchemaLock(async (admin) => {
      if (template) {
        // The run's migrated schema (test/helpers/pg-schema-template.ts), made again under this test's name.
        await admin.query(template.split(SCHEMA_NAME_MARK).join(schema));
      } else {
        await admin.query(`create schema ${schema}`);
        await migrateToLatest(store.db, schema);
      }
    });
    return {
      store,
      reopen: open,
      cleanup: async () => {
        for (const s of opened) await s.close().catch(() => undefined);
        await withSchemaLock((admin) => admin.query(`drop schema ${schema} cascade`));
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'escalatr-test-'));
  const file = join(dir, 'test.db');
  const opened: Store[] = [];
  const open = () => {
    const s = openStore({ sqliteFile: file });
    opened.push(s);
    return s;
  };
  const store = open();
  await migrateToLatest(store.db);
  return {
    store,
    reopen: open,
    cleanup: async () => {
      for (const s of opened) await s.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The production defaults of the per-company limits: the limit tests pass tiny ones, or override one of these. */
export const DEFAULT_COMPANY_LIMITS: Readonly<CompanyLimits> = Object.freeze({
  feedbackPerMin: 6_000,
  resendsPerMin: 60,
  endpoints: 50,
  automations: 100,
  recoverDeliveries: 10_000,
  apiKeys: 50,
  // Tests make many requests a minute on a fake clock; the company limit is tested with its own setting.
  requestsPerMin: 0,
  servingMsPerMin: 0,
  bodiesReceiving: 0,
  connections: 0,
});

export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: '127.0.0.1',
    dataDir: join(tmpdir(), 'escalatr-unused'),
    databaseUrl: DATABASE_URL,
    databaseReadUrl: null,
    readReplicaMaxLagMs: 10_000,
    masterKey: randomBytes(32),
    retryScheduleMs: [60_000, 300_000, 1_800_000, 7_200_000, 21_600_000],
    allowHttpWebhooks: true,
    webhookAllowCidrs: ['127.0.0.0/8', '::1/128'],
    smtpUrl: null,
    logLevel: 'silent',
    publicUrl: 'http://localhost:3000',
    workerConcurrency: 16,
    perEndpointConcurrency: 4,
    // Half the worker's, as the configuration's default.
    companyConcurrency: Math.ceil((overrides.workerConcurrency ?? 16) / 2),
    leaseMs: 60_000,
    // High enough that no functional test meets it; the rate-limit tests pass a tiny one.
    rateLimitPerMin: 100_000,
    metricsToken: null,
    operatorToken: null,
    metricsListen: null,
    anonRateLimitPerMin: 100_000,
    maxConnections: 4_000,
    shieldThreads: 1,
    shieldCompanyInFlight: 100,
    companyLimits: DEFAULT_COMPANY_LIMITS,
    retentionIntervalMs: 300_000,
    retentionBatchRows: 500,
    queueVacuumIntervalMs: 10_000,
    queueVacuumDeadRows: 20_000,
    // A server a test starts runs inside the test's process: V8's own heap heuristic stays.
    heapGrowthPercent: 0,
    ...overrides,
  };
}

export interface TestApp {
  app: App;
  clock: ManualClock;
  store: Store;
  testStore: TestStore;
  config: Config;
  close(): Promise<void>;
}

/** A full app over a fresh database with a manual clock. No port is opened: use app.http.inject(). */
export async function createTestApp(
  opts: { config?: Partial<Config>; clock?: ManualClock; verifyPassword?: PasswordVerifier; tracing?: Telemetry } = {},
): Promise<TestApp> {
  const testStore = await createTestStore();
  const clock = opts.clock ?? new ManualClock();
  const config = testConfig(opts.config);
  const app = await buildApp({
    config,
    store: testStore.store,
    clock,
    logger: false,
    verifyPassword: opts.verifyPassword,
    tracing: opts.tracing,
  });
  await app.http.ready();
  return {
    app,
    clock,
    store: testStore.store,
    testStore,
    config,
    close: async () => {
      await app.scheduler.stop();
      await app.http.close();
      await app.reads.close();
      await testStore.cleanup();
    },
  };
}

export const OWNER_PASSWORD = 'correct horse battery';
// scrypt is deliberately slow; one hash per test process instead of one per test keeps the suite fast.
let ownerHash: Promise<string> | null = null;

/** The owner row exactly as createUser writes it, with the password hash computed once per process. */
async function insertOwner(t: TestApp, companyId: string, email: string): Promise<StaffUser> {
  ownerHash ??= hashPassword(OWNER_PASSWORD);
  const user: StaffUser = {
    id: newId('usr'),
    company_id: companyId,
    email,
    name: null,
    role: 'owner',
    created_at: t.clock.now(),
  };
  await t.store.db
    .insertInto('users')
    .values({ ...user, password_hash: await ownerHash, failed_logins: 0, locked_until: null })
    .execute();
  return user;
}

/** A company with an owner, an admin key, a read key and a consumer: the cast of most tests. */
export async function seedTenant(t: TestApp, opts: { code?: string; plan?: Plan } = {}) {
  const ctx = t.app.ctx;
  const code = opts.code ?? 'VOLT';
  const company = await createCompany(ctx, { name: `${code} Corp`, code, plan: opts.plan ?? 'professional' });
  const owner = await insertOwner(t, company.id, `owner@${code.toLowerCase()}.test`);
  const apiPlan = company.plan === 'professional' || company.plan === 'enterprise';
  const adminKey = apiPlan
    ? (await createApiKey(ctx, { companyId: company.id, name: 'admin', scope: 'admin' as Scope })).key
    : null;
  const readKey = apiPlan
    ? (await createApiKey(ctx, { companyId: company.id, name: 'read', scope: 'read' as Scope })).key
    : null;
  const { consumer, token: consumerToken } = await createConsumerWithToken(ctx, {
    email: `alice+${code.toLowerCase()}@example.test`,
    name: 'Alice',
  });
  return { company, owner, adminKey: adminKey!, readKey: readKey!, consumer, consumerToken };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
