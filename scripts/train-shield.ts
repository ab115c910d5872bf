/**
 * npm run train:shield — trains the Shield model on data/shield-train.jsonl and writes
 * src/shield/scoring/shield-model.json. Everything is chosen by 5-fold cross-validation on the training file (see
 * scripts/shield/train.ts): approach, feature families, L2 strength, each cut's threshold and the sensitivity offsets.
 * The held-out file is read only afterwards, to measure what each sensitivity gives on feedback the model never saw;
 * those figures are stored in the model, where the API and the dashboard show them, and nothing is chosen by them.
 *
 * Options: --approach model|combined (restrict the choice to one approach; default: both are candidates)
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SENSITIVITIES } from '../src/shield/scoring/model.js';
import { levelRank } from '../src/shield/scoring/score.js';
import { loadSplit } from './shield/dataset.js';
import { atHigh, describeFeatures, fitCalibrated, levelAt, predict, type Approach } from './shield/train.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const ai = args.indexOf('--approach');
const approaches: Approach[] = ai >= 0 ? [args[ai + 1] as Approach] : ['model', 'combined'];
if (!approaches.every((a) => a === 'model' || a === 'combined'))
  throw new Error('--approach must be model or combined');

const { train, heldout } = loadSplit(root);
const { model, config, thresholds, cv } = fitCalibrated(train, approaches, console.log);
const heldPreds = heldout.map((r) => predict(model, r));
const r3 = (x: number) => Math.round(x * 1000) / 1000;
for (const s of SENSITIVITIES) {
  const { precision, recall } = atHigh(heldout, heldPreds, cv[s].offset);
  model.sensitivity[s] = { offset: cv[s].offset, precision: r3(precision), recall: r3(recall) };
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
  `\nchosen by cross-validation: approach ${config.approach}, ${describeFeatures(config.features)}, l2 ${config.l2}; ${model.trained.features} features, trained on ${train.length} records`,
);
console.log(
  `cut thresholds (cross-validated, folded into the biases): escalation ${thresholds.escalation.join(' ')}  intensity ${thresholds.intensity.join(' ')}`,
);
for (const s of SENSITIVITIES) {
  const c = model.sensitivity[s];
  console.log(
    `  ${s.padEnd(12)} offset ${c.offset.toFixed(2).padStart(5)}  cross-validated ≥ high: P ${cv[s].cv.precision.toFixed(3)}  R ${cv[s].cv.recall.toFixed(3)}  | held-out: P ${c.precision.toFixed(3)}  R ${c.recall.toFixed(3)}`,
  );
}
console.log(
  `held-out exact escalation ${(exact / heldout.length).toFixed(3)} (${heldout.length} records, ${high} at ≥ high)`,
);
