import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * Every measured system runs in its own child process (so peak RSS is per process and a crash or a GC pause in one
 * does not stall the others). The orchestrator drives them over Node's IPC channel with a tiny request/answer
 * protocol: `{id, cmd, args}` in, `{id, ok, value | error}` out.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The children run compiled JavaScript (`npm run build`, as `npm start` runs the service): no TypeScript loader in them. */
const COMPILED_BENCH_DIR = join(ROOT, 'dist', 'bench');

/** Compiles src/ and bench/ to dist/ for the children; the orchestrator calls it once per run. */
export function compileForChildren(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), 'src', 'bench'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('compiling src/ and bench/ for the bench processes failed');
}

export interface ChildOptions {
  /** Name used in error messages and for the profile file. */
  name: string;
  env?: NodeJS.ProcessEnv;
  /** Write a V8 CPU profile of this process into this folder (`--profile`). */
  profileDir?: string | null;
}

export interface BenchChild {
  readonly name: string;
  readonly pid: number;
  call<T = unknown>(cmd: string, args?: unknown): Promise<T>;
  /** Asks the child to exit and waits for it; the child answers `exit` with its peak RSS first. */
  close(): Promise<void>;
}

type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** Starts `bench/{script}` (e.g. `processes/receiver`, `peers/bullmq`), compiled, with an IPC channel. */
export async function startChild(script: string, opts: ChildOptions): Promise<BenchChild> {
  const execArgv: string[] = [];
  if (opts.profileDir) {
    // One folder per process, the profile under V8's default name.
    const dir = join(opts.profileDir, opts.name);
    mkdirSync(dir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  const child: ChildProcess = fork(join(COMPILED_BENCH_DIR, `${script}.js`), [], {
    execArgv,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited = false;
  child.on('message', (m: Answer) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.value);
    else w.reject(new Error(`${opts.name}: ${m.error}`));
  });
  const exitedPromise = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = true;
      for (const w of waiting.values()) w.reject(new Error(`${opts.name} exited (${signal ?? code}) before answering`));
      waiting.clear();
      resolve();
    }),
  );
  const call = <T>(cmd: string, args?: unknown): Promise<T> => {
    if (exited) return Promise.reject(new Error(`${opts.name} has exited`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, args });
    });
  };
  await call('ping');
  return {
    name: opts.name,
    pid: child.pid!,
    call,
    async close() {
      if (exited) return;
      // A profile is written on a normal exit only, so ask politely; kill only if it will not go.
      await call('exit').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

// Each handler names its own argument type; what arrives over the IPC channel is whatever the orchestrator sent.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handlers = Record<string, (args: any) => unknown | Promise<unknown>>;

/** The child side: answers the orchestrator's calls with `handlers`; `ping` and `exit` are built in. */
export function serve(handlers: Handlers, onExit?: () => Promise<void>): void {
  const send = (m: Answer) => process.send?.(m);
  process.on('message', async (m: { id: number; cmd: string; args: unknown }) => {
    if (m.cmd === 'ping') return send({ id: m.id, ok: true, value: process.pid });
    if (m.cmd === 'exit') {
      await onExit?.().catch(() => undefined);
      send({ id: m.id, ok: true, value: null });
      process.channel?.unref();
      // Let the answer flush, then leave; exiting normally writes the CPU profile when one was asked for.
      setTimeout(() => process.exit(0), 50);
      return;
    }
    const handler = handlers[m.cmd];
    if (!handler) return send({ id: m.id, ok: false, error: `unknown command ${m.cmd}` });
    try {
      send({ id: m.id, ok: true, value: (await handler(m.args ?? {})) ?? null });
    } catch (err) {
      send({ id: m.id, ok: false, error: (err as Error)?.stack ?? String(err) });
    }
  });
  // The orchestrator died: do not linger.
  process.on('disconnect', () => process.exit(1));
}
