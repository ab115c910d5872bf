import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { PG_ADMIN_URL } from './services.js';

/**
 * CPU time spent by each part of a run while it drains a backlog, per delivery — what each part costs, which stays
 * readable when the machine's speed moves between runs (throughput on a shared two-core machine moves ±10%).
 * Read from /proc (Linux): user + system time of each process, all its threads included. The parts:
 * - `worker`: the sending processes (our workers, a peer's workers, the raw senders);
 * - `receiver`: the receiver process;
 * - `store`: the store's server when it runs apart — Redis (every `redis-server` process, with its reaped children),
 *   or PostgreSQL: the backends serving the run's own database (found in pg_stat_activity by database name, so the
 *   other databases of a shared cluster are not counted; autovacuum workers on that database included) plus the
 *   cluster's background processes (WAL writer, checkpointer, background writer…), which write the run's WAL and
 *   pages but also anyone else's: `store_background` reports them apart.
 * Backends come and go during a run (a peer opens its pool when it starts), so the processes are sampled every
 * 200 ms: one first seen after the start that was born after it counts from zero, and one that exits between two
 * samples loses at most its last 200 ms. Elsewhere than Linux every figure is null.
 */

const TICKS_PER_S = 100; // USER_HZ: what /proc/<pid>/stat counts in, 100 on every Linux architecture Node runs on.
const SAMPLE_MS = 200;

export interface CpuParts {
  worker: number[];
  receiver: number[];
  /** The store's server when it is not inside the workers: PostgreSQL (by database name) or Redis. */
  store?: { postgres: string } | { redis: true };
}

export type CpuPerDelivery = Record<string, number>;

interface ProcStat {
  seconds: number;
  /** Clock ticks after boot at which the process started. */
  startTicks: number;
}

/** utime + stime (+ cutime + cstime of reaped children when `withChildren`), or null when the process has gone. */
function procStat(pid: number, withChildren: boolean): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start after the last ')'; f[0] is field 3 (state).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return { seconds: ticks / TICKS_PER_S, startTicks: Number(f[19]) };
  } catch {
    return null;
  }
}

function pidsOf(command: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === command) out.push(Number(entry));
    } catch {
      // gone between readdir and read
    }
  }
  return out;
}

const uptimeTicks = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * TICKS_PER_S;

export class CpuMeter {
  /** Per part, per pid: seconds at the window's start (or at birth) and at the last sample. */
  private readonly first = new Map<string, Map<number, number>>();
  private readonly last = new Map<string, Map<number, number>>();
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> | null = null;
  private readonly startTicks = uptimeTicks();

  private constructor(
    private readonly parts: CpuParts,
    private readonly pgClient: pg.Client | null,
  ) {}

  /** Starts measuring now; null where /proc cannot be read. */
  static async start(parts: CpuParts): Promise<CpuMeter | null> {
    try {
      readdirSync('/proc');
      uptimeTicks();
    } catch {
      return null;
    }
    let client: pg.Client | null = null;
    if (parts.store && 'postgres' in parts.store) {
      client = new pg.Client({ connectionString: PG_ADMIN_URL, application_name: 'escalatr-bench-cpu' });
      await client.connect();
    }
    const meter = new CpuMeter(parts, client);
    await meter.sample(true);
    meter.timer = setInterval(() => {
      meter.sampling ??= meter.sample(false).finally(() => (meter.sampling = null));
    }, SAMPLE_MS);
    return meter;
  }

  private async pidsByPart(): Promise<Record<string, { pids: number[]; withChildren: boolean }>> {
    const out: Record<string, { pids: number[]; withChildren: boolean }> = {
      worker: { pids: this.parts.worker, withChildren: false },
      receiver: { pids: this.parts.receiver, withChildren: false },
    };
    const store = this.parts.store;
    if (store && 'redis' in store) out.store = { pids: pidsOf('redis-server'), withChildren: true };
    if (store && 'postgres' in store && this.pgClient) {
      const { rows } = await this.pgClient.query<{ pid: number; background: boolean }>(
        `select pid, datname is null as background from pg_stat_activity
          where datname = $1 or (datname is null and backend_type <> 'client backend')`,
        [store.postgres],
      );
      out.store = { pids: rows.filter((r) => !r.background).map((r) => r.pid), withChildren: false };
      out.store_background = { pids: rows.filter((r) => r.background).map((r) => r.pid), withChildren: false };
    }
    return out;
  }

  private async sample(initial: boolean): Promise<void> {
    const byPart = await this.pidsByPart();
    for (const [part, { pids, withChildren }] of Object.entries(byPart)) {
      const first = this.first.get(part) ?? new Map<number, number>();
      const last = this.last.get(part) ?? new Map<number, number>();
      this.first.set(part, first);
      this.last.set(part, last);
      for (const pid of pids) {
        const s = procStat(pid, withChildren);
        if (!s) continue;
        // A process first seen after the start counts from zero only if it was born inside the window.
        if (!first.has(pid)) first.set(pid, initial || s.startTicks < this.startTicks ? s.seconds : 0);
        last.set(pid, s.seconds);
      }
    }
  }

  /** Stops and gives microseconds of CPU per delivery for each part (`store` includes `store_background`), and the total. */
  async stop(deliveries: number): Promise<CpuPerDelivery> {
    if (this.timer) clearInterval(this.timer);
    await this.sampling;
    await this.sample(false);
    await this.pgClient?.end().catch(() => undefined);
    const us: Record<string, number> = {};
    for (const [part, first] of this.first) {
      const last = this.last.get(part)!;
      let seconds = 0;
      for (const [pid, s0] of first) seconds += (last.get(pid) ?? s0) - s0;
      us[part] = (seconds * 1e6) / deliveries;
    }
    if (us.store_background !== undefined) us.store += us.store_background;
    const out: CpuPerDelivery = {};
    for (const part of ['worker', 'store', 'receiver', 'store_background'])
      if (us[part] !== undefined) out[part] = Math.round(us[part]);
    out.total = Math.round(us.worker + (us.store ?? 0) + us.receiver);
    return out;
  }
}

/** Each part's median over the rounds. */
export function medianCpu(rounds: ReadonlyArray<CpuPerDelivery | null>): CpuPerDelivery | null {
  const known = rounds.filter((r): r is CpuPerDelivery => r !== null);
  if (!known.length) return null;
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  return Object.fromEntries(Object.keys(known[0]).map((k) => [k, median(known.map((r) => r[k]))]));
}

/** "; CPU per delivery worker 98, store 71 (background 9), receiver 24 = 193 µs" */
export const cpuLine = (cpu: CpuPerDelivery | null): string =>
  cpu
    ? `; CPU per delivery worker ${cpu.worker}${cpu.store === undefined ? '' : `, store ${cpu.store}`}${cpu.store_background === undefined ? '' : ` (background ${cpu.store_background})`}, receiver ${cpu.receiver} = ${cpu.total} µs`
    : '';

/** A result's parts: `store` only where the store runs as a server of its own. */
export const CPU_PARTS = ['worker', 'store', 'receiver', 'total'] as const;
/** The parts of a system whose store lives inside its worker process (SQLite) or that has none (the raw sender). */
export const CPU_PARTS_NO_STORE = ['worker', 'receiver', 'total'] as const;

/** The result keys of one system's figures: `{system}_cpu_us_per_delivery_{worker|store|receiver|total}`. */
export function cpuValues(
  system: string,
  cpu: CpuPerDelivery | null,
  parts: readonly string[] = CPU_PARTS,
): Record<string, number | null> {
  return Object.fromEntries(parts.map((part) => [`${system}_cpu_us_per_delivery_${part}`, cpu?.[part] ?? null]));
}
