import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time spent by the processes of a run while it drains a backlog, per delivery — what each part costs, which
 * stays readable when the machine's speed moves between runs (throughput on a shared two-core machine moves ±10%).
 * Read from /proc (Linux): user + system time of the given processes, all their threads included, plus for a
 * server (PostgreSQL, Redis) every process of that name and the time of its children that already exited (a
 * PostgreSQL backend or autovacuum worker that ends during the drain is counted through the postmaster).
 * Elsewhere every figure is null.
 */

const TICKS_PER_S = 100; // USER_HZ: what /proc/<pid>/stat counts in, 100 on every Linux architecture Node runs on.

export interface CpuGroups {
  /** Named groups of our own processes by pid (workers, receiver, …). */
  pids: Record<string, number[]>;
  /** Named groups of server processes by command name (postgres, redis-server). */
  commands: Record<string, string>;
}

type Snapshot = Record<string, number> | null;

/** Seconds of CPU: utime + stime (+ cutime + cstime of reaped children when `withChildren`). */
function cpuSeconds(pid: number, withChildren: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return ticks / TICKS_PER_S;
  } catch {
    return 0; // the process has gone
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

export function cpuSnapshot(groups: CpuGroups): Snapshot {
  try {
    readdirSync('/proc');
  } catch {
    return null;
  }
  const snap: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups.pids))
    snap[name] = pids.reduce((s, p) => s + cpuSeconds(p, false), 0);
  for (const [name, command] of Object.entries(groups.commands))
    snap[name] = pidsOf(command).reduce((s, p) => s + cpuSeconds(p, true), 0);
  return snap;
}

/** Microseconds of CPU per delivery for each group between two snapshots, and their total. */
export function cpuPerDelivery(before: Snapshot, after: Snapshot, deliveries: number): Record<string, number> | null {
  if (!before || !after) return null;
  const out: Record<string, number> = {};
  let total = 0;
  for (const name of Object.keys(after)) {
    const us = ((after[name] - (before[name] ?? 0)) * 1e6) / deliveries;
    out[name] = Math.round(us);
    total += us;
  }
  out.total = Math.round(total);
  return out;
}
