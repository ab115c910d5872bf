import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/**
 * `npx tsx bench/profile-summary.ts FILE.cpuprofile [N]` — the top N functions of a V8 CPU profile (written by
 * `npm run bench -- --profile`) by self time and by inclusive time, with the share of samples that were idle. Enough
 * to see where a run's time goes without opening a flame graph; load the same file in Chrome DevTools or speedscope
 * for the graph itself.
 */

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, nArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/profile-summary.ts FILE.cpuprofile [N]\n');
  process.exit(2);
}
const top = Number(nArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Time per sample: the delta to the next sample.
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
}

const label = (n: Node) => {
  const f = n.callFrame;
  const where = f.url ? `${relative(process.cwd(), f.url.replace(/^file:\/\//, ''))}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
for (const [id, us] of selfUs) {
  all += us;
  const node = byId.get(id)!;
  self.set(label(node), (self.get(label(node)) ?? 0) + us);
  // Inclusive: every distinct frame on the stack gets the sample once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + us);
  }
}

const pct = (us: number) => `${((us / all) * 100).toFixed(1).padStart(5)}%`;
const idle = self.get('(idle)') ?? 0;
process.stdout.write(
  `${file}\n${(all / 1e6).toFixed(1)} s sampled, ${pct(idle)} idle, ${pct(self.get('(garbage collector)') ?? 0)} GC\n\n`,
);
const print = (title: string, m: Map<string, number>) => {
  process.stdout.write(`${title}\n`);
  for (const [l, us] of [...m]
    .filter(([l]) => !['(idle)', '(root)', '(program)'].includes(l))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    process.stdout.write(`${pct(us)}  ${l}\n`);
  }
  process.stdout.write('\n');
};
print('self time', self);
print('inclusive time', total);
