import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const CLI = join(ROOT, 'bin', 'escalatr.js');

/** A free TCP port on loopback, so several servers can run side by side. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts `escalatr …` as a real process with the given environment; output is kept for diagnosis. `prefix` runs it
 * through another command first (`ip netns exec NAME`, which execs it in place: the child is the process itself).
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv, prefix: string[] = []): Proc {
  const [command, ...rest] = [...prefix, process.execPath];
  const child = spawn(command, [...rest, CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Runs a CLI command to completion and returns its stdout; throws with its output on a non-zero exit. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const p = startCli(args, env);
  let stdout = '';
  p.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await p.exited;
  if (code !== 0) throw new Error(`escalatr ${args.join(' ')} exited ${code}: ${p.output()}`);
  return stdout;
}

/** Polls until `check` is true or the deadline passes; for waiting on another process, where no event exists. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitReady(baseUrl: string, timeoutMs = 30_000): Promise<void> {
  await until(async () => (await fetch(`${baseUrl}/readyz`)).ok, `${baseUrl}/readyz`, timeoutMs);
}

export function kill9(p: Proc): Promise<number | null> {
  p.child.kill('SIGKILL');
  return p.exited;
}
