/**
 * npm run split:shield -- <file.jsonl> <source>: adds labelled records to data/shield-train.jsonl, each marked with
 * `source`. The held-out file is frozen (see scripts/shield/dataset.ts), so new records are training records only. A
 * record whose id is already in either file is skipped.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HELDOUT_FILE, loadLabelled, TRAIN_FILE } from './shield/dataset.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [input, source] = process.argv.slice(2);
if (!input || !source) throw new Error('usage: npm run split:shield -- <file.jsonl> <source>');
const existing = (f: string) => (existsSync(resolve(root, f)) ? loadLabelled(resolve(root, f)) : []);
const train = existing(TRAIN_FILE);
const known = new Set([...train, ...existing(HELDOUT_FILE)].map((r) => r.id));
let added = 0;
for (const r of loadLabelled(resolve(input))) {
  if (known.has(r.id)) continue;
  train.push({ ...r, source: r.source ?? source });
  added++;
}
writeFileSync(resolve(root, TRAIN_FILE), train.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.log(`added ${added} training records: training ${train.length}`);
