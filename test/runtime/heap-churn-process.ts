import { getHeapSpaceStatistics } from 'node:v8';
import { limitHeapGrowth } from '../../src/runtime/heap-growth.js';

/**
 * A process shaped like a delivery worker's heap: a live set that stays, and batches that live long enough to reach
 * the old generation before they are dropped. Prints the largest old generation seen. Argument: the heap growth
 * percent to set (0: V8's own).
 */
limitHeapGrowth(Number(process.argv[2]));

const oldSpaceUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
const live = Array.from({ length: 300_000 }, (_, i) => ({ id: `live-${i}`, body: 'x'.repeat(40) }));
let batch: object[] = [];
let peakOldSpace = 0;
for (let i = 0; i < 4_000_000; i++) {
  batch.push({ n: i, text: `delivery-${i}` });
  if (batch.length === 200_000) {
    batch = [];
    peakOldSpace = Math.max(peakOldSpace, oldSpaceUsed());
  }
}
process.stdout.write(JSON.stringify({ liveObjects: live.length, peakOldSpaceMb: peakOldSpace / 2 ** 20 }));
