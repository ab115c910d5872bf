import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DemoResult } from '../../src/runtime/demo-seed.js';
import { announceFirstStart, FIRST_START_FILE } from '../../src/runtime/first-start.js';

const demo: DemoResult = {
  created: true,
  credentials: {
    company: { code: 'VOLT', name: 'Volt Electronics', plan: 'professional' },
    owner: { email: 'owner@volt.example', password: 'pw-secret-123456' },
    consumer: { email: 'alice@consumer.example', token: 'csk_consumer-secret' },
    api_key: 'esc_api-key-secret',
  },
};
const SECRETS = ['pw-secret-123456', 'csk_consumer-secret', 'esc_api-key-secret'];

describe('the first start announcement', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('shows the credentials at a terminal and writes no file', () => {
    dir = mkdtempSync(join(tmpdir(), 'escalatr-first-'));
    const printed: string[] = [];
    expect(
      announceFirstStart(demo, 'http://localhost:3000', {
        dataDir: dir,
        stdoutIsTty: true,
        print: (l) => printed.push(l),
      }),
    ).toBeNull();
    for (const secret of SECRETS) expect(printed.join('\n')).toContain(secret);
    expect(existsSync(join(dir, FIRST_START_FILE))).toBe(false);
  });

  it('writes them to a file only the owner can read when stdout is a log, and prints only its path', () => {
    dir = mkdtempSync(join(tmpdir(), 'escalatr-first-'));
    const file = join(dir, FIRST_START_FILE);
    // A file left by an earlier first start (say, a store recreated) with a loose mode is narrowed too.
    writeFileSync(file, 'old', { mode: 0o644 });
    const printed: string[] = [];
    expect(
      announceFirstStart(demo, 'http://localhost:3000', {
        dataDir: dir,
        stdoutIsTty: false,
        print: (l) => printed.push(l),
      }),
    ).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    for (const secret of SECRETS) {
      expect(text).toContain(secret);
      expect(printed.join('\n')).not.toContain(secret);
    }
    expect(printed.join('\n')).toContain(file);
  });
});
