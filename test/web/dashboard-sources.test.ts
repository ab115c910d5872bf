import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_SOURCES } from '../../src/web/build-dashboard.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WEB = join(ROOT, 'web');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

/**
 * The server rebuilds the dashboard when a source is newer than the bundle. A server module the dashboard imports
 * (a table it shares with the API) is a source too: if it were not listed, editing it would leave the dashboard
 * served with the old table until someone rebuilt it by hand.
 */
describe('the dashboard bundle', () => {
  it('counts every server module the dashboard imports among its sources', () => {
    const imported = new Set<string>();
    for (const file of filesUnder(join(WEB, 'src'))) {
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '((?:\.\.\/)+src\/[^']+)'/g)) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(join(WEB, 'src'))) imported.add(relative(WEB, target.replace(/\.js$/, '')) + '.ts');
      }
    }
    // The imports this test reads are the shape the dashboard writes them in; finding none would mean it reads none.
    expect(imported.size).toBeGreaterThanOrEqual(2);
    for (const source of imported) expect(DASHBOARD_SOURCES).toContain(source);
  });
});
