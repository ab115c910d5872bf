import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BIN, createCliEnv, dropFileDatabase, type CliEnv } from '../cli/cli-harness.js';

/** Resolves with the exit code (or signal) whenever the child exits: the test's own timeout bounds the wait. */
const exited = (child: ChildProcess) =>
  new Promise<number | string | null>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode ?? child.signalCode);
    child.once('exit', (code, signal) => done(code ?? signal));
  });

describe('logging into a pipe nobody reads', () => {
  afterAll(dropFileDatabase);
  let cli: CliEnv | null = null;
  let child: ChildProcess | null = null;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = exited(child);
      child.kill('SIGKILL');
      await gone;
    }
    child = null;
    await cli?.cleanup();
    cli = null;
  });

  it('keeps serving, counts the lines it drops, and stops on SIGTERM', { timeout: 120_000 }, async () => {
    cli = await createCliEnv();
    child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: cli.dataDir,
      // Every request is logged, so the output outgrows the pipe and the writer's buffer quickly.
      env: { ...cli.env, LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (b) => (stderr += b));
    // Read stdout only up to the line that says where the server listens; after that the reader stalls for good.
    const stdout = child.stdout!;
    const url = await new Promise<string>((done, fail) => {
      let seen = '';
      const onData = (b: Buffer) => {
        seen += b;
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
        if (!m) return;
        stdout.off('data', onData);
        stdout.pause();
        done(m[1]);
      };
      stdout.on('data', onData);
      child!.once('exit', () => fail(new Error(`exited before listening: ${seen}${stderr}`)));
    });

    // About 16 kB of log per request: the kernel's pipe buffer fills, then the writer's bounded buffer.
    const padded = `${url}/healthz?pad=${'x'.repeat(8000)}`;
    for (let round = 0; round < 40; round++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(padded)));
      for (const answer of answers) expect(answer.status).toBe(200);
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const dropped = Number(/^escalatr_log_lines_dropped_total (\d+)$/m.exec(metrics)?.[1]);
    expect(dropped).toBeGreaterThan(0);
    // Still serving the API, not only health checks.
    expect((await fetch(`${url}/api/v1/complaints`)).status).toBe(401);

    const exit = exited(child);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
