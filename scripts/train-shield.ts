/**
 * npm run train:shield — trains the Shield model on data/shield-train.jsonl and writes
 * src/shield/scoring/shield-model.json. The held-out file is read only to report what each sensitivity is expected to
 * give; nothing is chosen by it.
 *
 *   - the L2 strength is chosen by 5-fold cross-validation on the training file (F1 at escalation ≥ high, then exact
 *     escalation accuracy);
 *   - the sensitivity offsets are chosen on the same out-of-fold predictions: conservative is the smallest offset
 *     whose precision at ≥ high reaches 0.97, sensitive the smallest shift down whose recall reaches 0.97;
 *   - their expected precision and recall are then measured on the held-out file and stored in the model, where the
 *     dashboard shows them.
 *
 * Options: --approach model|combined (default combined)
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sensitivity, ShieldModel } from '../src/shield/scoring/model.js';
import { levelRank } from '../src/shield/scoring/score.js';
import { loadSplit } from './shield/dataset.js';
import { atHigh, chooseL2, predict, trainModel, levelAt, type Approach } from './shield/train.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const ai = args.indexOf('--approach');
const DEFAULT_APPROACH: Approach = 'combined';
const approach = (ai >= 0 ? args[ai + 1] : DEFAULT_APPROACH) as Approach;
if (approach !== 'model' && approach !== 'combined') throw new Error('--approach must be model or combined');

const { train, heldout } = loadSplit(root);
const { l2, oof: bestOof } = chooseL2(train, approach, console.log);
const best = { l2 };

const OFFSETS = Array.from({ length: 25 }, (_, i) => i * 0.25);
const conservative = OFFSETS.find((o) => atHigh(train, bestOof, o).precision >= 0.97) ?? 1.5;
const sensitive = -(OFFSETS.find((o) => atHigh(train, bestOof, -o).recall >= 0.97) ?? 1.5);

const model: ShieldModel = trainModel(train, approach, best.l2);
const heldPreds = heldout.map((r) => predict(model, r));
const offsets: Record<Sensitivity, number> = { conservative, balanced: 0, sensitive };
for (const s of Object.keys(offsets) as Sensitivity[]) {
  const { precision, recall } = atHigh(heldout, heldPreds, offsets[s]);
  model.sensitivity[s] = {
    offset: offsets[s],
    precision: Math.round(precision * 1000) / 1000,
    recall: Math.round(recall * 1000) / 1000,
  };
}
const exact = heldout.filter((r, i) => levelAt(heldPreds[i]!.escalation) === r.expected_escalation_level).length;
const high = heldout.filter((r) => levelRank(r.expected_escalation_level) >= 3).length;

// one feature per line, so a retrained model diffs readably
const body = JSON.stringify({ ...model, weights: {} }, null, 2).replace(
  '"weights": {}',
  `"weights": {\n${Object.entries(model.weights)
    .map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(',\n')}\n  }`,
);
writeFileSync(resolve(root, 'src/shield/scoring/shield-model.json'), body + '\n');
console.log(
  `approach ${approach}, l2 ${best.l2}, ${model.trained.features} features, trained on ${train.length} records`,
);
for (const s of Object.keys(offsets) as Sensitivity[]) {
  const c = model.sensitivity[s];
  console.log(
    `  ${s.padEnd(12)} offset ${c.offset.toFixed(2).padStart(5)}  held-out ≥ high: P ${c.precision.toFixed(3)}  R ${c.recall.toFixed(3)}`,
  );
}
console.log(
  `held-out exact escalation ${(exact / heldout.length).toFixed(3)} (${heldout.length} records, ${high} at ≥ high)`,
);
