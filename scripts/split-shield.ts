/**
 * npm run split:shield -- <file.jsonl>: adds labelled records to data/shield-train.jsonl and data/shield-heldout.jsonl,
 * each to the file that the seeded hash of its text assigns it (see scripts/shield/dataset.ts). A record whose id is
 * already in either file is left where it is, so the held-out part never moves.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HELDOUT_FILE, isHeldOut, loadLabelled, TRAIN_FILE, type LabelledRecord } from './shield/dataset.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const input = process.argv[2];
if (!input) throw new Error('usage: npm run split:shield -- <file.jsonl>');
const existing = (f: string) => (existsSync(resolve(root, f)) ? loadLabelled(resolve(root, f)) : []);
const train = existing(TRAIN_FILE);
const heldout = existing(HELDOUT_FILE);
const known = new Set([...train, ...heldout].map((r) => r.id));
let added = 0;
for (const r of loadLabelled(resolve(input))) {
  if (known.has(r.id)) continue;
  (isHeldOut(r) ? heldout : train).push(r);
  added++;
}
const write = (f: string, rs: LabelledRecord[]) =>
  writeFileSync(resolve(root, f), rs.map((r) => JSON.stringify(r)).join('\n') + '\n');
write(TRAIN_FILE, train);
write(HELDOUT_FILE, heldout);
console.log(`added ${added}: training ${train.length}, held out ${heldout.length}`);
