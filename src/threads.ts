import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Where a worker thread's entry module is, and how to start it: the compiled JavaScript under `npm start`, the
 * TypeScript source under tsx and vitest. A thread does not inherit loader hooks registered in its parent, so from
 * source it starts with tsx's loader itself. `siblingOf` is the caller's `import.meta.url`; `name` the entry
 * module's file name without its extension, in the caller's folder.
 */
export function threadEntry(siblingOf: string, name: string): { filename: URL; execArgv?: string[] } {
  const fromSource = siblingOf.endsWith('.ts');
  const filename = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, siblingOf);
  // Compiled, the thread inherits the process's own flags (a thread's default).
  if (!fromSource) return { filename };
  return { filename, execArgv: ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] };
}

/**
 * Starts one worker thread on the caller's sibling module `name` (see threadEntry). From source, a small script
 * registers tsx's hooks in the thread and then imports the entry: on Node 20, a plain thread given `--import` with
 * tsx's loader still refused the `.ts` entry, and a `.ts` import made after it as well.
 */
export function startThread(siblingOf: string, name: string, options: WorkerOptions): Worker {
  const entry = threadEntry(siblingOf, name);
  if (!entry.execArgv) return new Worker(entry.filename, options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const bootstrap = `import(${tsx}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.filename.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
