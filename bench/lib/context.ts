import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, type BenchChild } from './rpc.js';

/** The sizes of one bench run: the full run, or `--quick` (under two minutes on two cores). */
export interface Plan {
  quick: boolean;
  /** Events committed per throughput run; each fans out to `fanout` endpoints. */
  events: number;
  warmupEvents: number;
  fanout: number;
  /** In flight per sender process: the product's default worker concurrency, and the peers'. */
  concurrency: number;
  latencyRate: number;
  latencySeconds: number;
  /** Backlogs drained per throughput measurement (ours and the peers'); the figure is their median. */
  throughputRounds: number;
  /** The grown-store comparison: rounds of delivery, then of API load, run in fresh-then-grown pairs. */
  grownPairs: number;
  grownApiPairs: number;
  /** Isolation: events per run and how many baseline/isolated pairs to run. */
  isolationEvents: number;
  isolationRounds: number;
  /** API: store sizes (complaints and events each) and seconds of load per route and size. */
  apiSizes: number[];
  apiSeconds: number;
  apiConnections: number;
  /** Noisy neighbour: B's steady rate and seconds measured, and A's backlog (events, 50 deliveries each). */
  noisyRate: number;
  noisySeconds: number;
  noisyBacklogEvents: number;
  /** Grown store: attempt rows of history seeded before the second run, per store. */
  grownPgAttempts: number;
  grownSqliteAttempts: number;
  /** The soak's length (`--soak-minutes=N`); it runs only with `--soak`. */
  soakMinutes: number;
}

export function makePlan(quick: boolean, soakMinutes = 20): Plan {
  return quick
    ? {
        quick,
        events: 2000,
        warmupEvents: 200,
        fanout: 10,
        concurrency: 64,
        latencyRate: 500,
        latencySeconds: 3,
        throughputRounds: 1,
        grownPairs: 1,
        grownApiPairs: 1,
        isolationEvents: 600,
        isolationRounds: 1,
        apiSizes: [10_000, 100_000],
        apiSeconds: 3,
        apiConnections: 10,
        noisyRate: 200,
        noisySeconds: 3,
        noisyBacklogEvents: 200,
        grownPgAttempts: 1_000_000,
        grownSqliteAttempts: 500_000,
        soakMinutes,
      }
    : {
        quick,
        events: 3000,
        warmupEvents: 300,
        fanout: 10,
        concurrency: 64,
        latencyRate: 500,
        latencySeconds: 10,
        throughputRounds: 3,
        grownPairs: 5,
        grownApiPairs: 3,
        isolationEvents: 4000,
        isolationRounds: 5,
        apiSizes: [10_000, 100_000, 1_000_000],
        apiSeconds: 8,
        apiConnections: 10,
        noisyRate: 200,
        noisySeconds: 10,
        noisyBacklogEvents: 10_000,
        grownPgAttempts: 20_000_000,
        grownSqliteAttempts: 5_000_000,
        soakMinutes,
      };
}

export interface BenchContext {
  plan: Plan;
  receiver: BenchChild;
  /** http://127.0.0.1:{port} of the receiver. */
  receiverUrl: string;
  /** Every Escalatr process of a run shares the master key, as a deployment's processes do. */
  masterKeyHex: string;
  profileDir: string | null;
  /** Extra environment for every child (BENCH_SQL_TIMING=1 with --sql-timing). */
  childEnv: NodeJS.ProcessEnv;
  log(line: string): void;
  /** Starts a bench child process; it is closed when the scenario ends, whatever happens. */
  child(script: string, name: string): Promise<BenchChild>;
  /** A temp folder removed when the scenario ends. */
  tempDir(): string;
}

export interface ScenarioResult {
  values: Record<string, number | null>;
  details: Record<string, unknown>;
  /** Metric → why it is null. */
  skipped?: Record<string, string>;
}

/** Runs one scenario with its own children and temp folders, cleaned up even when it throws. */
export async function withScenario<T>(
  base: Omit<BenchContext, 'child' | 'tempDir' | 'masterKeyHex'>,
  fn: (ctx: BenchContext) => Promise<T>,
): Promise<T> {
  const children: BenchChild[] = [];
  const dirs: string[] = [];
  const ctx: BenchContext = {
    ...base,
    masterKeyHex: randomBytes(32).toString('hex'),
    async child(script, name) {
      const c = await startChild(script, { name, profileDir: base.profileDir, env: base.childEnv });
      children.push(c);
      return c;
    },
    tempDir() {
      const d = mkdtempSync(join(tmpdir(), 'escalatr-bench-'));
      dirs.push(d);
      return d;
    },
  };
  try {
    return await fn(ctx);
  } finally {
    await Promise.all(children.map((c) => c.close().catch(() => undefined)));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

export const endpointUrls = (receiverUrl: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ url: `${receiverUrl}/ep/${i}` }));

/** The middle value (the upper middle of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
