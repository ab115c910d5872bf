/**
 * The Shield labelled set: data/shield-train.jsonl (tuning and training) and data/shield-heldout.jsonl (never tuned
 * on). Which file a record of the original set belongs to is decided by a seeded hash of its text — of its thread id
 * for threaded records, so a thread is never split — and not by anything a scorer does, so the held-out part was fixed
 * before any tuning. The held-out file is now frozen: records written later carry a `source` and are training records
 * whatever their hash says (adding them to the held-out file after models were tuned would let tuning leak into it).
 */
import { readFileSync } from 'node:fs';
import { isLevel, type Level, type SentimentShift } from '../../src/shield/scoring/score.js';

export interface LabelledRecord {
  id: string;
  content: string;
  lang: string;
  thread_id?: string;
  expected_escalation_level: Level;
  expected_emotional_intensity_level: Level;
  expected_sentiment_shift?: SentimentShift;
  /** The first-pass labels that the second pass over the hard cases changed, and why. */
  first_pass?: Partial<Record<'expected_escalation_level' | 'expected_emotional_intensity_level', Level>>;
  second_pass_note?: string;
  /** Set on records written after the held-out file was frozen; such records are training records only. */
  source?: string;
}

export const TRAIN_FILE = 'data/shield-train.jsonl';
export const HELDOUT_FILE = 'data/shield-heldout.jsonl';

const SPLIT_SEED = 'escalatr-shield-split-v1';
/** Share of the records held out, in percent. */
const HELDOUT_PERCENT = 35;

/** FNV-1a (32-bit) over the UTF-8 bytes of `seed + key`. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function isHeldOut(r: Pick<LabelledRecord, 'content' | 'thread_id'>): boolean {
  return fnv1a(`${SPLIT_SEED}:${r.thread_id ?? r.content}`) % 100 < HELDOUT_PERCENT;
}

export function loadLabelled(path: string): LabelledRecord[] {
  const out: LabelledRecord[] = [];
  const ids = new Set<string>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      const r = JSON.parse(line) as LabelledRecord;
      const where = `${path}:${i + 1}`;
      if (typeof r.id !== 'string' || ids.has(r.id)) throw new Error(`${where}: missing or duplicate id`);
      if (typeof r.content !== 'string') throw new Error(`${where}: content must be a string`);
      if (!isLevel(r.expected_escalation_level) || !isLevel(r.expected_emotional_intensity_level))
        throw new Error(`${where}: bad expected level`);
      ids.add(r.id);
      out.push(r);
    });
  return out;
}

/** Both files, checked: no id in both, and every record in the file its hash assigns it to. */
export function loadSplit(root: string): { train: LabelledRecord[]; heldout: LabelledRecord[] } {
  const train = loadLabelled(`${root}/${TRAIN_FILE}`);
  const heldout = loadLabelled(`${root}/${HELDOUT_FILE}`);
  const trainIds = new Set(train.map((r) => r.id));
  for (const r of heldout) {
    if (trainIds.has(r.id)) throw new Error(`${r.id} is in both the training and the held-out file`);
    if (r.source !== undefined) throw new Error(`${r.id} was written after the held-out file was frozen`);
    if (!isHeldOut(r)) throw new Error(`${r.id} is in the held-out file but its hash assigns it to training`);
  }
  for (const r of train)
    if (r.source === undefined && isHeldOut(r))
      throw new Error(`${r.id} is in the training file but its hash holds it out`);
  return { train, heldout };
}
