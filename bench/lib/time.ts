import { performance } from 'node:perf_hooks';

/**
 * Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine
 * (each process's timeOrigin is an epoch time). Latency is measured from a commit in one process to an arrival in
 * another, so `Date.now()`'s whole milliseconds would be too coarse.
 */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** The value below which `p` percent of the sorted sample falls (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Peak resident set size of this process so far, in MB (the kernel's high-water mark, not a sample). */
export const peakRssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
