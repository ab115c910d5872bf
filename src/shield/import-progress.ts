import cliProgress from 'cli-progress';
import type { ImportProgress } from './import.js';

export interface ImportProgressBar {
  /** Pass as `importFeedbackFile(…, { onProgress })`. */
  onProgress(progress: ImportProgress): void;
  /** Call once the import has finished (or failed), so the terminal line is completed. */
  stop(): void;
}

const kb = (bytes: number) => `${Math.round(bytes / 1024).toLocaleString('en-US')} KB`;

/**
 * A terminal progress bar for `escalatr shield import`, measured in bytes of the file (known up front, so the bar
 * is honest from the first batch), with the running counts beside it. Writes to stderr so `--json` output on
 * stdout stays clean; draws nothing when stderr is not a terminal.
 */
export function createImportProgressBar(
  totalBytes: number,
  stream: NodeJS.WriteStream = process.stderr,
): ImportProgressBar {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: 'Importing [{bar}] {percentage}% | {size} | {imported} imported, {skipped} duplicates, {invalid} invalid',
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const total = Math.max(totalBytes, 1);
  bar.start(total, 0, { imported: 0, skipped: 0, invalid: 0, size: `${kb(0)} / ${kb(totalBytes)}` });
  let stopped = false;
  return {
    onProgress(p) {
      if (stopped) return;
      bar.update(Math.min(p.bytesRead, total), {
        imported: p.imported,
        skipped: p.skipped,
        invalid: p.invalid,
        size: `${kb(p.bytesRead)} / ${kb(p.totalBytes)}`,
      });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
