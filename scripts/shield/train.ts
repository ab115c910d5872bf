/**
 * Training the Shield model (src/shield/scoring/model.ts) from labelled records: used by `npm run train:shield`, which
 * writes the shipped model, and by `npm run eval:shield`, which trains each approach on the training file alone and
 * scores it on the held-out file.
 *
 * Every choice is made by k-fold cross-validation on the training records passed in (never on held-out records):
 *   1. the configuration — approach, optional feature families, L2 strength — with the best out-of-fold F1 at
 *      escalation ≥ high (ties: exact escalation accuracy);
 *   2. each cut's decision threshold, on that configuration's out-of-fold logits, top cut first: the threshold with
 *      the best F1 for "at least this level"; the thresholds are folded into the cut biases;
 *   3. the sensitivity offsets on the same thresholded out-of-fold logits: conservative the offset ≥ 0 with the best
 *      F0.5 at ≥ high (precision weighs more), sensitive the offset ≤ 0 with the best F2 (recall weighs more).
 */
import { SHIELD_LEVELS, createScorer, featuresOf, levelRank } from '../../src/shield/scoring/score.js';
import type { FeatureOptions, FeatureVector } from '../../src/shield/scoring/features.js';
import {
  levelIndex,
  predictLogits,
  SENSITIVITIES,
  type Sensitivity,
  type ShieldModel,
} from '../../src/shield/scoring/model.js';
import type { LabelledRecord } from './dataset.js';
import { trainBinaries, type SparseRow } from './logreg.js';

export type Approach = ShieldModel['approach'];

export interface Config {
  approach: Approach;
  features: FeatureOptions;
  l2: number;
}

const lexicon = createScorer();
const memo = new Map<string, FeatureVector>();

const optionsKey = (o: FeatureOptions) => `${o.chars ? 'c' : ''}${o.intensity ? 'i' : ''}${o.negation ? 'n' : ''}`;
export const describeFeatures = (o: FeatureOptions) =>
  [o.chars && 'char n-grams', o.intensity && 'tone', o.negation && 'negated cues'].filter(Boolean).join(' + ') ||
  'words/phrases/cues only';

function features(r: Pick<LabelledRecord, 'content'>, approach: Approach, options: FeatureOptions): FeatureVector {
  const key = `${approach}\u0000${optionsKey(options)}\u0000${r.content}`;
  let fv = memo.get(key);
  if (!fv) {
    fv = featuresOf(r.content, approach === 'combined', lexicon, undefined, options);
    memo.set(key, fv);
  }
  return fv;
}

/** A feature must appear in at least this many training records to get a weight (keeps one-off words out). */
const MIN_COUNT = 2;

/** The model fitted on `records`, every cut compared with 0 (no calibrated thresholds yet). */
function trainModel(records: LabelledRecord[], cfg: Config): ShieldModel {
  const fvs = records.map((r) => features(r, cfg.approach, cfg.features));
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
  const labels: number[][] = [];
  for (const key of ['expected_escalation_level', 'expected_emotional_intensity_level'] as const)
    for (let k = 1; k <= 4; k++) labels.push(records.map((r) => (levelRank(r[key]) >= k ? 1 : 0)));
  const fitted = trainBinaries(rows, labels, names.length, cfg.l2);
  const heads = { escalation: fitted.slice(0, 4), intensity: fitted.slice(4) };
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const weights: Record<string, number[]> = {};
  names.forEach((n, i) => {
    const w = [...heads.escalation.map((h) => r4(h.w[i]!)), ...heads.intensity.map((h) => r4(h.w[i]!))];
    if (w.some((x) => Math.abs(x) >= 1e-3)) weights[n] = w;
  });
  const neutral = { offset: 0, precision: 0, recall: 0 };
  const hasOptions = Object.values(cfg.features).some(Boolean);
  return {
    format: 1,
    approach: cfg.approach,
    ...(hasOptions ? { features: cfg.features } : {}),
    bias: { escalation: heads.escalation.map((h) => r4(h.b)), intensity: heads.intensity.map((h) => r4(h.b)) },
    weights,
    sensitivity: { conservative: neutral, balanced: neutral, sensitive: neutral },
    trained: { records: records.length, l2: cfg.l2, features: Object.keys(weights).length },
  };
}

export interface Prediction {
  escalation: number[];
  intensity: number[];
}

export function predict(model: ShieldModel, r: LabelledRecord): Prediction {
  return predictLogits(model, features(r, model.approach, model.features ?? {}));
}

export const levelAt = (logits: number[], offset = 0) => SHIELD_LEVELS[levelIndex(logits, offset)]!;

const FOLDS = 5;

/** A record's fold: a hash of its thread id (so a thread stays in one fold) or its id. Deterministic. */
function foldOf(r: LabelledRecord): number {
  let h = 0x811c9dc5;
  for (const ch of `fold:${r.thread_id ?? r.id}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h % FOLDS;
}

/** Out-of-fold predictions: each record predicted by a model fitted on the other folds. */
function outOfFold(records: LabelledRecord[], cfg: Config): Prediction[] {
  const folds = records.map(foldOf);
  const out: Prediction[] = new Array(records.length);
  for (let f = 0; f < FOLDS; f++) {
    const m = trainModel(
      records.filter((_, i) => folds[i] !== f),
      cfg,
    );
    records.forEach((r, i) => {
      if (folds[i] === f) out[i] = predict(m, r);
    });
  }
  return out;
}

export interface PR {
  precision: number;
  recall: number;
}

const fBeta = ({ precision, recall }: PR, beta = 1) =>
  precision + recall ? ((1 + beta * beta) * precision * recall) / (beta * beta * precision + recall) : 0;

/** Precision and recall of "level ≥ min" (default high) when every cut is compared with `offset`. */
export function atHigh(
  records: LabelledRecord[],
  preds: Prediction[],
  offset: number,
  min = 3,
  out: 'escalation' | 'intensity' = 'escalation',
): PR {
  const key = out === 'escalation' ? 'expected_escalation_level' : 'expected_emotional_intensity_level';
  let tp = 0;
  let fp = 0;
  let fn = 0;
  records.forEach((r, i) => {
    const truth = levelRank(r[key]) >= min;
    const said = levelIndex(preds[i]![out], offset) >= min;
    if (truth && said) tp++;
    else if (said) fp++;
    else if (truth) fn++;
  });
  return { precision: tp + fp ? tp / (tp + fp) : 1, recall: tp + fn ? tp / (tp + fn) : 1 };
}

const exactShare = (records: LabelledRecord[], preds: Prediction[]) =>
  records.filter((r, i) => levelAt(preds[i]!.escalation) === r.expected_escalation_level).length / records.length;

const L2_GRID = [0.3, 1, 3];
const FEATURE_GRID: FeatureOptions[] = [
  {},
  { chars: true },
  { intensity: true, negation: true },
  { chars: true, intensity: true, negation: true },
];

/**
 * The configuration with the best cross-validated F1 at escalation ≥ high among `approaches` × FEATURE_GRID ×
 * L2_GRID (ties: exact escalation accuracy), with its out-of-fold predictions.
 */
function chooseConfig(
  records: LabelledRecord[],
  approaches: Approach[],
  log: (line: string) => void = () => {},
): { config: Config; oof: Prediction[]; f1: number } {
  let best = { config: null as Config | null, f1: -1, acc: -1, oof: [] as Prediction[] };
  for (const approach of approaches)
    for (const feats of FEATURE_GRID)
      for (const l2 of L2_GRID) {
        const config = { approach, features: feats, l2 };
        const oof = outOfFold(records, config);
        const pr = atHigh(records, oof, 0);
        const f1 = fBeta(pr);
        const acc = exactShare(records, oof);
        log(
          `  cv ${approach.padEnd(8)} ${describeFeatures(feats).padEnd(40)} l2 ${String(l2).padStart(3)}:  P ${pr.precision.toFixed(3)}  R ${pr.recall.toFixed(3)}  F1 ${f1.toFixed(3)}  exact ${acc.toFixed(3)}`,
        );
        if (f1 > best.f1 + 1e-9 || (Math.abs(f1 - best.f1) <= 1e-9 && acc > best.acc)) best = { config, f1, acc, oof };
      }
  return { config: best.config!, oof: best.oof, f1: best.f1 };
}

const THRESHOLDS = Array.from({ length: 33 }, (_, i) => -4 + i * 0.25);

/** Per-cut thresholds chosen on out-of-fold logits, top cut first (see the header). */
function chooseThresholds(records: LabelledRecord[], oof: Prediction[]): Prediction {
  const chosen: Prediction = { escalation: [0, 0, 0, 0], intensity: [0, 0, 0, 0] };
  for (const out of ['escalation', 'intensity'] as const) {
    for (let k = 3; k >= 0; k--) {
      let best = { t: 0, f1: -1 };
      for (const t of THRESHOLDS) {
        const shifted = shift(oof, { ...chosen, [out]: chosen[out].map((x, j) => (j === k ? t : x)) });
        const f1 = fBeta(atHigh(records, shifted, 0, k + 1, out));
        // ties go to the threshold nearest 0, the uncalibrated point
        if (f1 > best.f1 + 1e-9 || (Math.abs(f1 - best.f1) <= 1e-9 && Math.abs(t) < Math.abs(best.t))) best = { t, f1 };
      }
      chosen[out][k] = best.t;
    }
  }
  return chosen;
}

/** Logits with each cut's threshold subtracted, so 0 is the decision point. */
function shift(preds: Prediction[], t: Prediction): Prediction[] {
  return preds.map((p) => ({
    escalation: p.escalation.map((x, k) => x - t.escalation[k]!),
    intensity: p.intensity.map((x, k) => x - t.intensity[k]!),
  }));
}

const OFFSETS = Array.from({ length: 17 }, (_, i) => i * 0.25);

/** Sensitivity offsets chosen on thresholded out-of-fold logits (see the header), with their cross-validated P/R. */
function chooseSensitivities(
  records: LabelledRecord[],
  oof: Prediction[],
): Record<Sensitivity, { offset: number; cv: PR }> {
  const pick = (sign: 1 | -1, beta: number) => {
    let best = { offset: 0, f: -1 };
    for (const o of OFFSETS) {
      const f = fBeta(atHigh(records, oof, sign * o), beta);
      if (f > best.f + 1e-9) best = { offset: sign * o, f };
    }
    return best.offset;
  };
  const offsets: Record<Sensitivity, number> = { conservative: pick(1, 0.5), balanced: 0, sensitive: pick(-1, 2) };
  return Object.fromEntries(
    SENSITIVITIES.map((s) => [s, { offset: offsets[s], cv: atHigh(records, oof, offsets[s]) }]),
  ) as Record<Sensitivity, { offset: number; cv: PR }>;
}

/**
 * The full procedure on `records`: choose the configuration by cross-validation, calibrate thresholds and
 * sensitivities on its out-of-fold logits, fit on all of `records` and fold the thresholds into the biases.
 */
export function fitCalibrated(
  records: LabelledRecord[],
  approaches: Approach[],
  log: (line: string) => void = () => {},
): {
  model: ShieldModel;
  config: Config;
  /** Cross-validated F1 at escalation ≥ high of the chosen configuration, before thresholds were calibrated. */
  f1: number;
  thresholds: Prediction;
  cv: Record<Sensitivity, { offset: number; cv: PR }>;
} {
  const { config, oof, f1 } = chooseConfig(records, approaches, log);
  const thresholds = chooseThresholds(records, oof);
  const cv = chooseSensitivities(records, shift(oof, thresholds));
  const model = trainModel(records, config);
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  model.bias = {
    escalation: model.bias.escalation.map((b, k) => r4(b - thresholds.escalation[k]!)),
    intensity: model.bias.intensity.map((b, k) => r4(b - thresholds.intensity[k]!)),
  };
  for (const s of SENSITIVITIES) model.sensitivity[s] = { offset: cv[s].offset, precision: 0, recall: 0 };
  return { model, config, f1, thresholds, cv };
}
