import { setFlagsFromString } from 'node:v8';

/**
 * Bounds how far the JS heap grows between full collections: to `percent` past what the last one kept alive.
 *
 * A delivery worker keeps most of what it allocates alive across a few young-generation collections (a claimed
 * batch lives until its attempts are sent and their results written), so V8 moves much of it to the old generation.
 * While collecting is cheap, V8 lets the old generation grow to four times what survived before it collects: a
 * worker holding 45 MB of live objects swelled to 200 MB of heap between collections, and its resident memory by as
 * much. At 100% the heap grows to twice its live size; the extra full collections are incremental and short.
 * 0 leaves V8's own heuristic. The setting is the process's, so only a long-running service calls this.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
