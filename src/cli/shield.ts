import { Option, type Command } from 'commander';
import type { ImportFormat, ImportProgress, ImportResult } from '../shield/import.js';
import { options } from './options.js';
import { printJson, printLines, withRuntime } from './runtime.js';

const SHOWN_INVALID_LINES = 20;

/** The progress bar is drawn on stderr, only for a person at a terminal, and made on the first report (the file size is known then). */
function progressReporter(enabled: boolean) {
  let bar: { onProgress(p: ImportProgress): void; stop(): void } | null = null;
  let loading: Promise<void> | null = null;
  return {
    onProgress(p: ImportProgress) {
      if (!enabled) return;
      if (bar) return bar.onProgress(p);
      loading ??= import('../shield/import-progress.js').then(({ createImportProgressBar }) => {
        bar = createImportProgressBar(p.totalBytes);
      });
    },
    async stop() {
      await loading;
      bar?.stop();
    },
  };
}

function summary(file: string, company: string, r: ImportResult): string[] {
  const lines = [
    `Imported ${r.imported} feedback records from ${file} into ${company} (${r.skipped} duplicates skipped, ${r.invalid_total} invalid).`,
  ];
  if (r.imported > 0)
    lines.push('They are scored in the background by a running `escalatr serve` or `escalatr worker`.');
  return lines;
}

/** `shield import FILE`: stores a JSONL or CSV file of feedback records for scoring and automations. */
export function registerShieldCommands(program: Command): void {
  const shield = program.command('shield').description('Escalation Shield: feedback scoring and alerts');

  shield
    .command('import')
    .description('import feedback records (id, source, content, …) from a JSONL or CSV file for a company')
    .argument('<file>', 'a .jsonl, .ndjson or .csv file of feedback records')
    .addOption(options.company())
    .addOption(new Option('--format <format>', 'file format, when the name does not tell').choices(['jsonl', 'csv']))
    .addOption(options.json())
    .action(async (file: string, o: { company: string; format?: ImportFormat; json?: boolean }) => {
      // Loaded on use: the importer and its parsers are not needed by the other commands.
      const { importFeedbackFile } = await import('../shield/import.js');
      const progress = progressReporter(!o.json && Boolean(process.stderr.isTTY));
      const result = await withRuntime(({ ctx }) =>
        importFeedbackFile(ctx, o.company, file, { format: o.format, onProgress: (p) => progress.onProgress(p) }),
      ).finally(() => progress.stop());
      if (o.json) return printJson(result);
      printLines(...summary(file, o.company, result));
      for (const bad of result.invalid.slice(0, SHOWN_INVALID_LINES))
        process.stderr.write(`  line ${bad.line}: ${bad.message}\n`);
      if (result.invalid_total > SHOWN_INVALID_LINES)
        process.stderr.write(`  … and ${result.invalid_total - SHOWN_INVALID_LINES} more invalid lines\n`);
    });
}
