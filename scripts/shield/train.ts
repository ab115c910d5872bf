/**
 * Training the Shield model (src/shield/scoring/model.ts) from labelled records: used by `npm run train:shield`, which
 * writes the shipped model, and by `npm run eval:shield`, which trains each approach on the training file alone and
 * scores it on the held-out file.
 */
import { SHIELD_LEVELS, createScorer, featuresOf, levelRank } from '../../src/shield/scoring/score.js';
import type { FeatureVector } from '../../src/shield/scoring/features.js';
import { levelIndex, predictLogits, type ShieldModel } from '../../src/shield/scoring/model.js';
import type { LabelledRecord } from './dataset.js';
import { trainBinary, type SparseRow } from './logreg.js';

export type Approach = ShieldModel['approach'];

const lexicon = createScorer();
const memo = new Map<string, FeatureVector>();

function features(r: Pick<LabelledRecord, 'content'>, approach: Approach): FeatureVector {
  const key = `${approach}\u0000${r.content}`;
  let fv = memo.get(key);
  if (!fv) {
    fv = featuresOf(r.content, approach === 'combined', lexicon);
    memo.set(key, fv);
  }
  return fv;
}

/** A feature must appear in at least this many training records to get a weight (keeps one-off words out). */
const MIN_COUNT = 2;

export function trainModel(records: LabelledRecord[], approach: Approach, l2: number): ShieldModel {
  const fvs = records.map((r) => features(r, approach));
  const counts = new Map<string, number>();
  for (const fv of fvs) for (const name of fv.values.keys()) counts.set(name, (counts.get(name) ?? 0) + 1);
  const names = [...counts].filter(([, c]) => c >= MIN_COUNT).map(([n]) => n);
  names.sort();
  const index = new Map(names.map((n, i) => [n, i]));
  const rows: SparseRow[] = fvs.map((fv) => {
    const idx: number[] = [];
    const val: number[] = [];
    for (const [n, v] of fv.values) {
      const i = index.get(n);
      if (i !== undefined) {
        idx.push(i);
        val.push(v);
      }
    }
    return { idx, val };
  });
  const heads = {
    escalation: [] as ReturnType<typeof trainBinary>[],
    intensity: [] as ReturnType<typeof trainBinary>[],
  };
  for (const out of ['escalation', 'intensity'] as const) {
    const key = out === 'escalation' ? 'expected_escalation_level' : 'expected_emotional_intensity_level';
    for (let k = 1; k <= 4; k++) {
      const y = records.map((r) => (levelRank(r[key]) >= k ? 1 : 0));
      heads[out].push(trainBinary(rows, y, names.length, l2));
    }
  }
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const weights: Record<string, number[]> = {};
  names.forEach((n, i) => {
    const w = [...heads.escalation.map((h) => r4(h.w[i]!)), ...heads.intensity.map((h) => r4(h.w[i]!))];
    if (w.some((x) => Math.abs(x) >= 1e-3)) weights[n] = w;
  });
  const neutral = { offset: 0, precision: 0, recall: 0 };
  return {
    format: 1,
    approach,
    bias: { escalation: heads.escalation.map((h) => r4(h.b)), intensity: heads.intensity.map((h) => r4(h.b)) },
    weights,
    sensitivity: { conservative: neutral, balanced: neutral, sensitive: neutral },
    trained: { records: records.length, l2, features: Object.keys(weights).length },
  };
}

export interface Prediction {
  escalation: number[];
  intensity: number[];
}

export function predict(model: ShieldModel, r: LabelledRecord): Prediction {
  return predictLogits(model, features(r, model.approach));
}

export const levelAt = (logits: number[], offset = 0) => SHIELD_LEVELS[levelIndex(logits, offset)]!;

/** Deterministic k-fold assignment (record i goes to fold i mod k). */
function outOfFold(records: LabelledRecord[], approach: Approach, l2: number, k = 5): Prediction[] {
  const out: Prediction[] = new Array(records.length);
  for (let f = 0; f < k; f++) {
    const train = records.filter((_, i) => i % k !== f);
    const m = trainModel(train, approach, l2);
    records.forEach((r, i) => {
      if (i % k === f) out[i] = predict(m, r);
    });
  }
  return out;
}

/** Precision and recall of "escalation ≥ high" when every cut is compared with `offset`. */
export function atHigh(
  records: LabelledRecord[],
  preds: Prediction[],
  offset: number,
): { precision: number; recall: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  records.forEach((r, i) => {
    const truth = levelRank(r.expected_escalation_level) >= 3;
    const said = levelIndex(preds[i]!.escalation, offset) >= 3;
    if (truth && said) tp++;
    else if (said) fp++;
    else if (truth) fn++;
  });
  return { precision: tp + fp ? tp / (tp + fp) : 1, recall: tp + fn ? tp / (tp + fn) : 1 };
}

const L2_GRID = [0.3, 1, 3, 10];

/**
 * The L2 strength with the best 5-fold cross-validated F1 at escalation ≥ high on `records` (ties: exact escalation
 * accuracy), and its out-of-fold predictions.
 */
export function chooseL2(
  records: LabelledRecord[],
  approach: Approach,
  log: (line: string) => void = () => {},
): { l2: number; oof: Prediction[] } {
  let best = { l2: L2_GRID[0]!, f1: -1, acc: -1, oof: [] as Prediction[] };
  for (const l2 of L2_GRID) {
    const oof = outOfFold(records, approach, l2);
    const { precision, recall } = atHigh(records, oof, 0);
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    const acc =
      records.filter((r, i) => levelAt(oof[i]!.escalation) === r.expected_escalation_level).length / records.length;
    log(
      `${approach} l2 ${l2}: cross-validated on training  P ${precision.toFixed(3)}  R ${recall.toFixed(3)}  F1 ${f1.toFixed(3)}  exact ${acc.toFixed(3)}`,
    );
    if (f1 > best.f1 + 1e-9 || (Math.abs(f1 - best.f1) <= 1e-9 && acc > best.acc)) best = { l2, f1, acc, oof };
  }
  return { l2: best.l2, oof: best.oof };
}
