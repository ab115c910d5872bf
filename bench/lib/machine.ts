import { cpus, loadavg, totalmem, release, platform } from 'node:os';

/** The line every published figure travels with: what it was measured on. */
export interface Machine {
  cpu_model: string;
  cores: number;
  memory_gb: number;
  node_version: string;
  os: string;
  postgres_version: string | null;
  /** 1-minute load average when the run started and ended: above the core count, other work shared the machine. */
  load_avg_start: number;
  load_avg_end: number | null;
}

export function describeMachine(postgresVersion: string | null): Machine {
  const list = cpus();
  return {
    cpu_model: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memory_gb: Math.round(totalmem() / 1024 ** 3),
    node_version: process.version,
    os: `${platform()} ${release()}`,
    postgres_version: postgresVersion,
    load_avg_start: Number(loadavg()[0].toFixed(2)),
    load_avg_end: null,
  };
}

export const machineLine = (m: Machine): string =>
  `${m.cpu_model}, ${m.cores} cores, ${m.memory_gb} GB, Node ${m.node_version}, ${m.os}${m.postgres_version ? `, PostgreSQL ${m.postgres_version}` : ''}` +
  `; load average ${m.load_avg_start}${m.load_avg_end === null ? '' : ` → ${m.load_avg_end}`}`;

export const currentLoad = (): number => Number(loadavg()[0].toFixed(2));
