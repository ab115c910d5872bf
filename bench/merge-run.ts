import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Machine } from './lib/machine.js';
import { tableLines, type Results } from './lib/targets.js';

/**
 * `npx tsx bench/merge-run.ts bench/results/run-….json soak` — puts the named scenarios of a partial run (`--only`)
 * into bench/results/latest.json: their figures, their details, and under `merged` which run they came from and on
 * what machine and load, which the rendered table prints under its machine line. For a scenario too long to repeat
 * with every full run (the 20-minute soak); everything else in latest.json stays the complete run's.
 */
type Run = Record<string, unknown> & {
  started_at: string;
  duration_s: number;
  machine: Machine;
  skipped: Record<string, string>;
  details: Record<string, unknown>;
  merged?: Record<string, { started_at: string; duration_s: number; machine: Machine }>;
};

const [from, ...scenarios] = process.argv.slice(2);
if (!from || !scenarios.length) {
  process.stderr.write('usage: npx tsx bench/merge-run.ts RUN.json SCENARIO…\n');
  process.exit(2);
}
const latestFile = join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');
const latest = JSON.parse(readFileSync(latestFile, 'utf8')) as Run;
const run = JSON.parse(readFileSync(from, 'utf8')) as Run;

for (const name of scenarios) {
  if (!run.details[name] || (run.details[name] as { error?: string }).error)
    throw new Error(`${from} has no completed ${name} scenario`);
  // The scenario's figures: those the run measured that a run without it leaves null for that reason (a scenario
  // named with a hyphen, grown-sqlite, names its figures with an underscore), a figure new since latest.json's run
  // among them.
  const prefix = `${name.replaceAll('-', '_')}_`;
  const keys = Object.keys(run).filter(
    (k) => typeof run[k] === 'number' && k.startsWith(prefix) && !(k in run.skipped),
  );
  if (!keys.length) throw new Error(`${from}: no ${name}_* figure to merge`);
  for (const k of keys) {
    latest[k] = run[k];
    delete latest.skipped[k];
  }
  // Per-sample statement timings (`--sql-timing`) stay in the run's own file: they would make latest.json mostly SQL.
  latest.details[name] = JSON.parse(JSON.stringify(run.details[name], (k, v) => (k === 'sql_timing' ? undefined : v)));
  latest.merged = {
    ...latest.merged,
    [name]: { started_at: run.started_at, duration_s: run.duration_s, machine: run.machine },
  };
}
latest.targets = tableLines(latest as unknown as Results)
  .filter((l) => l.target)
  .map((l) => ({ metric: l.metric, value: l.value, target: l.target, verdict: l.verdict }));
writeFileSync(latestFile, JSON.stringify(latest, null, 2) + '\n');
process.stdout.write(`merged ${scenarios.join(', ')} from ${from} into bench/results/latest.json\n`);
