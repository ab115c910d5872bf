/**
 * The trained Shield model: for each output (escalation, intensity) four logistic regressions over the features of
 * features.ts, one per cut — "at least low", "at least medium", "at least high", "extreme". A record's level is the
 * highest cut whose logit clears the decision offset (0 = probability 0.5). Shifting the offset is how a sensitivity
 * trades precision for recall without retraining.
 *
 * The weights live in shield-model.json beside this file, written by `npm run train:shield`; nothing is downloaded.
 */
import { readFileSync } from 'node:fs';
import type { FeatureOptions, FeatureVector, Span } from './features.js';

export type Sensitivity = 'conservative' | 'balanced' | 'sensitive';
export const SENSITIVITIES: readonly Sensitivity[] = ['conservative', 'balanced', 'sensitive'];

interface SensitivityCalibration {
  /** Added to every cut's decision point (in logits): above 0 fewer alerts, below 0 more. */
  offset: number;
  /** Expected precision and recall at escalation ≥ high on feedback not seen in training (the held-out set). */
  precision: number;
  recall: number;
}

export interface ShieldModel {
  format: 1;
  /** `combined` reads the lexicon scorer's points as features as well; `model` reads words and cues only. */
  approach: 'model' | 'combined';
  /** The optional feature families this model reads (absent: none). */
  features?: FeatureOptions;
  /**
   * The bias of each cut already includes its decision threshold, chosen by cross-validation on the training file,
   * so every cut is compared with 0 (plus a sensitivity's offset).
   */
  bias: { escalation: number[]; intensity: number[] };
  /** Feature → [4 escalation cut weights, 4 intensity cut weights]. */
  weights: Record<string, number[]>;
  sensitivity: Record<Sensitivity, SensitivityCalibration>;
  trained: { records: number; l2: number; features: number };
}

export interface Logits {
  escalation: number[];
  intensity: number[];
}

/** One feature's share in a decision: what it is, where it matched, and how far it pushed the score (logits). */
export interface Signal {
  signal: string;
  span: (Span & { text: string }) | null;
  weight: number;
}

export function loadModel(url: URL = new URL('./shield-model.json', import.meta.url)): ShieldModel {
  const model = JSON.parse(readFileSync(url, 'utf8')) as ShieldModel;
  if (model.format !== 1) throw new Error(`unsupported Shield model format: ${String(model.format)}`);
  return model;
}

export function predictLogits(model: ShieldModel, fv: FeatureVector): Logits {
  const escalation = [...model.bias.escalation];
  const intensity = [...model.bias.intensity];
  for (const [name, v] of fv.values) {
    const w = model.weights[name];
    if (!w) continue;
    for (let k = 0; k < 4; k++) {
      escalation[k]! += w[k]! * v;
      intensity[k]! += w[4 + k]! * v;
    }
  }
  return { escalation, intensity };
}

/** Level index 0–4: the highest cut whose logit is at least `offset`. */
export function levelIndex(logits: readonly number[], offset = 0): number {
  for (let k = logits.length - 1; k >= 0; k--) if (logits[k]! >= offset) return k + 1;
  return 0;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The features that moved escalation cut `cut` the most, strongest first (at most `max`). For an alert the cut is
 * "at least high"; a positive weight pushed towards it, a negative one away.
 */
export function explain(model: ShieldModel, fv: FeatureVector, content: string, cut: number, max = 8): Signal[] {
  const out: Signal[] = [];
  // a word's letter pieces (char:*) are one signal, "spelling:<word>", so a reader sees the word, not its pieces
  const pieces = new Map<string, { w: number; span: Span }>();
  for (const [name, v] of fv.values) {
    const w = model.weights[name]?.[cut];
    if (!w) continue;
    const s = fv.spans.get(name);
    if (name.startsWith('char:') && s) {
      const key = `${s.start}:${s.end}`;
      const p = pieces.get(key) ?? { w: 0, span: s };
      p.w += w * v;
      pieces.set(key, p);
      continue;
    }
    const weight = round3(w * v);
    if (Math.abs(weight) < 0.05) continue;
    out.push({ signal: name, span: s ? { ...s, text: content.slice(s.start, s.end) } : null, weight });
  }
  for (const { w, span } of pieces.values()) {
    const weight = round3(w);
    if (Math.abs(weight) < 0.05) continue;
    const text = content.slice(span.start, span.end);
    out.push({ signal: `spelling:${text.toLowerCase()}`, span: { ...span, text }, weight });
  }
  out.sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight) || a.signal.localeCompare(b.signal));
  return out.slice(0, max);
}
