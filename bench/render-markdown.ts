import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine, type Machine } from './lib/machine.js';
import { CPU_HEAD, cpuLines, tableLines, type Results, type TableLine } from './lib/targets.js';

/**
 * `npx tsx bench/render-markdown.ts [results.json] [other.json]` — the table of a run (bench/results/latest.json by
 * default) as Markdown with its machine line, for docs/benchmarks.md and the README; with a second file, the two
 * side by side (before and after a change). The numbers are never typed by hand.
 */
type Run = Results & {
  machine: Machine;
  mode: string;
  started_at: string;
  duration_s: number;
  skipped: Record<string, string>;
  /** Scenarios put in afterwards from a partial run (bench/merge-run.ts). */
  merged?: Record<string, { started_at: string; duration_s: number; machine: Machine }>;
};

const files = process.argv.slice(2);
if (files.length === 0) files.push(join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json'));
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Run);
const tables = runs.map((r) => tableLines(r));
const verdict = (l: TableLine) => (l.verdict === 'MISS' ? '**miss**' : l.verdict);
const label = (l: TableLine) => (l.metric.startsWith('  ') ? `↳ ${l.metric.trim()}` : l.metric);

const out: string[] = [];
if (runs.length === 1) {
  out.push('| metric | value | target | |', '|---|---:|---|---|');
  for (const l of tables[0]) out.push(`| ${label(l)} | ${l.value} | ${l.target} | ${verdict(l)} |`);
} else {
  out.push('| metric | before | | after | | target |', '|---|---:|---|---:|---|---|');
  tables[0].forEach((l, i) => {
    const a = tables[1][i];
    out.push(`| ${label(l)} | ${l.value} | ${verdict(l)} | ${a.value} | ${verdict(a)} | ${l.target} |`);
  });
}
out.push('');
// CPU per delivery of each part, one table per run (each part of each system is measured over the same window).
runs.forEach((run, i) => {
  if (runs.length > 1) out.push(`${i === 0 ? 'Before' : 'After'}:`, '');
  const row = (l: typeof CPU_HEAD) => `| ${l.system} | ${l.worker} | ${l.store} | ${l.receiver} | ${l.total} |`;
  out.push(row(CPU_HEAD), '|---|---:|---:|---:|---:|', ...cpuLines(run).map(row), '');
});
runs.forEach((run, i) => {
  const which = runs.length > 1 ? `${i === 0 ? 'Before' : 'After'}: ` : '';
  out.push(
    `${which}${run.mode} run of ${run.started_at.slice(0, 16).replace('T', ' ')} UTC, ${Math.round(run.duration_s)} s, on ${machineLine(run.machine)}.`,
    '',
  );
  // Scenarios merged from one partial run are named together, as that run's `--only` named them.
  const partialRuns = new Map<string, { names: string[]; m: NonNullable<Run['merged']>[string] }>();
  for (const [name, m] of Object.entries(run.merged ?? {})) {
    const same = partialRuns.get(m.started_at);
    if (same) same.names.push(name);
    else partialRuns.set(m.started_at, { names: [name], m });
  }
  for (const { names, m } of partialRuns.values())
    out.push(
      `- ${names.map((n) => `\`${n}\``).join(', ')}: from a run of ${names.length > 1 ? 'their' : 'its'} own (\`--only=${names.join(',')}\`) of ${m.started_at.slice(0, 16).replace('T', ' ')} UTC, ${Math.round(m.duration_s)} s, load average ${m.machine.load_avg_start} → ${m.machine.load_avg_end}.`,
    );
  for (const [k, why] of Object.entries(run.skipped ?? {})) out.push(`- \`${k}\` is null: ${why}`);
});
process.stdout.write(out.join('\n').trimEnd() + '\n');
