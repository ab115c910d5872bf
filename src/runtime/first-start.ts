import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoText, type DemoResult } from './demo-seed.js';

/** Where the first start leaves the demo credentials when nobody is at a terminal to read them. */
export const FIRST_START_FILE = 'first-start-credentials.txt';

export interface FirstStartOutput {
  dataDir: string;
  /** Is stdout a terminal? Anything else (a pipe into a log collector, a file) is treated as a log. */
  stdoutIsTty: boolean;
  print(line: string): void;
}

/**
 * Tells the person who started the service how to log in. At a terminal the credentials are shown; when stdout is
 * a log they would be kept there for good, readable by whoever reads logs, so they go to a file only the service's
 * user can read and the log says where it is. Returns the file's path, or null when they were shown.
 */
export function announceFirstStart(demo: DemoResult, url: string, out: FirstStartOutput): string | null {
  const lines = ['', 'First start:', ...demoText(demo, url), ''];
  if (out.stdoutIsTty) {
    out.print(lines.join('\n'));
    return null;
  }
  mkdirSync(out.dataDir, { recursive: true, mode: 0o700 });
  const file = join(out.dataDir, FIRST_START_FILE);
  writeFileSync(file, lines.join('\n').trimStart(), { mode: 0o600 });
  // The mode applies only to a file this call created: an older file keeps its own until told.
  chmodSync(file, 0o600);
  out.print(
    `First start: created the demo company; its login, consumer token and API key are in ${file} ` +
      '(readable by this user only; delete it once read).',
  );
  return file;
}
