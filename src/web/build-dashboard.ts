import { execFile } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the dashboard's sources and its built bundle live: `web/` at the project root, found by walking up to the
 * folder with package.json — this module runs from src/web under tsx and from dist/src/web after `npm run build`.
 */
const WEB_DIR = join(projectRoot(dirname(fileURLToPath(import.meta.url))), 'web');

function projectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(from, '../..');
  }
}
export const DIST_DIR = join(WEB_DIR, 'dist');

/** web/ plus the server modules the dashboard bundles (import-free tables it shares with the API), from web/. */
export const DASHBOARD_SOURCES = [
  'index.html',
  'portal',
  'vite.config.ts',
  'src',
  '../src/domain/event-catalog.ts',
  '../src/webhooks/brokers/schemes.ts',
];
/** The pages a complete bundle has: one built before the consumer portal existed lacks the second. */
const PAGES = ['index.html', join('portal', 'index.html')];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/**
 * Does web/dist hold a bundle at least as new as the sources? A checkout without sources (a shipped bundle
 * only) counts as fresh; a fresh clone has no bundle at all.
 */
export function dashboardIsFresh(): boolean {
  const index = join(DIST_DIR, 'index.html');
  if (!PAGES.every((page) => existsSync(join(DIST_DIR, page)))) return false;
  if (!existsSync(join(WEB_DIR, 'src'))) return true;
  const built = statSync(index).mtimeMs;
  return DASHBOARD_SOURCES.every((s) => newestMtime(join(WEB_DIR, s)) <= built);
}

/** Run by a child node process: Vite's module URL and the build's options as its arguments. */
const VITE_BUILD =
  'const [vite, options] = process.argv.slice(1); await (await import(vite)).build(JSON.parse(options));';

/**
 * Builds the bundle with Vite's JS API into a private folder, then renames it into place: several processes
 * starting at once on one checkout may each build, and none ever serves a half-written bundle. The build runs in a
 * child process: run inside the server, the bundler's code and memory stayed with the server for its whole life
 * (a first start on a fresh clone held about 260 MB where a later one holds 120).
 */
async function buildDashboard(): Promise<void> {
  const tmp = join(WEB_DIR, `.dist-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const options = {
      configFile: join(WEB_DIR, 'vite.config.ts'),
      root: WEB_DIR,
      logLevel: 'warn',
      build: { outDir: tmp, emptyOutDir: true },
    };
    await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', VITE_BUILD, import.meta.resolve('vite'), JSON.stringify(options)],
      { cwd: WEB_DIR, maxBuffer: 16 * 1024 * 1024 },
    );
    const old = existsSync(DIST_DIR) ? `${tmp}-old` : null;
    if (old) renameSync(DIST_DIR, old);
    renameSync(tmp, DIST_DIR);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (err) {
    // Another process may have put a fresh bundle in place first; that is as good as ours.
    if (!dashboardIsFresh()) throw err;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

let ready: Promise<void> | null = null;

/**
 * Resolves once web/dist is current. The check and the build happen once per process; a failed build stays
 * failed (answered at once) until the process restarts, rather than rebuilding on every request.
 */
export function ensureDashboardBuilt(): Promise<void> {
  ready ??= dashboardIsFresh() ? Promise.resolve() : buildDashboard();
  return ready;
}
