import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const CHURN = fileURLToPath(new URL('./heap-churn-process.ts', import.meta.url));

/**
 * The largest old generation the churn process reaches with the given growth setting. The process's own V8 flags
 * make the run repeatable: one GC thread (no concurrent marking racing the allocation) and the heap limit of a
 * machine with memory to spare, which is where V8 lets the heap grow most.
 */
function peakOldSpaceMb(percent: number): number {
  const out = execFileSync(
    process.execPath,
    ['--single-threaded-gc', '--max-old-space-size=4096', '--import', 'tsx', CHURN, String(percent)],
    { encoding: 'utf8' },
  );
  return (JSON.parse(out) as { peakOldSpaceMb: number }).peakOldSpaceMb;
}

describe('heap growth limit', () => {
  it('keeps the old generation of a worker-shaped process well below what V8 lets it reach by itself', () => {
    const own = peakOldSpaceMb(0);
    const limited = peakOldSpaceMb(100);
    expect(limited).toBeLessThan(own * 0.85);
  });

  it('is 100% unless configured, 0 leaves V8 its own, and a value out of range is refused by name', () => {
    const base = { ESCALATR_MASTER_KEY: 'a'.repeat(64), DATA_DIR: '/tmp/escalatr-heap-growth-unused' };
    expect(loadConfig(base).heapGrowthPercent).toBe(100);
    expect(loadConfig({ ...base, ESCALATR_HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent).toBe(0);
    expect(loadConfig({ ...base, ESCALATR_HEAP_GROWTH_PERCENT: '50' }).heapGrowthPercent).toBe(50);
    for (const bad of ['-1', '1001', 'lots', '1.5'])
      expect(() => loadConfig({ ...base, ESCALATR_HEAP_GROWTH_PERCENT: bad })).toThrow(/ESCALATR_HEAP_GROWTH_PERCENT/);
  });
});
