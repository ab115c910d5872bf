import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import type { DomainContext } from '../domain/context.js';
import { getCompanyByCode } from '../domain/companies.js';
import { AppError } from '../errors.js';
import { checkFeedbackRecord, type FeedbackInput } from './feedback-record.js';
import { storeFeedback } from './feedback.js';

export type ImportFormat = 'jsonl' | 'csv';

export interface ImportProgress {
  bytesRead: number;
  totalBytes: number;
  /** Records read so far (valid or not). */
  records: number;
  imported: number;
  skipped: number;
  invalid: number;
}

export interface ImportOptions {
  /** Default: from the file name (.jsonl/.ndjson → jsonl, .csv → csv). */
  format?: ImportFormat;
  /** Records per transaction (default 500). */
  batchSize?: number;
  onProgress?: (progress: ImportProgress) => void;
}

interface InvalidLine {
  line: number;
  message: string;
}

export interface ImportResult {
  imported: number;
  /** Records whose id the company already had (or that repeat an earlier line): skipped, never alerted twice. */
  skipped: number;
  /** The first MAX_REPORTED_INVALID problems, by line number. */
  invalid: InvalidLine[];
  /** Every invalid line, including those beyond the reported list. */
  invalid_total: number;
}

const MAX_REPORTED_INVALID = 1_000;
const REQUIRED_COLUMNS = ['id', 'source', 'content'];

/** One entry read from the file: a raw record to check, or a line that could not even be parsed. */
type FileEntry = { line: number; raw: unknown } | { line: number; error: string };

function detectFormat(file: string): ImportFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  throw new AppError(
    'validation_failed',
    `cannot tell the format of ${file}: name it .jsonl, .ndjson or .csv, or pass the format`,
  );
}

// Far above any valid record (content is at most 20,000 characters); a longer line is refused without holding it.
const MAX_LINE_CHARS = 1_000_000;

/**
 * JSONL entries, pulled chunk by chunk from the stream (so a slow store slows the reading: memory stays flat).
 * Blank lines are skipped; a line over MAX_LINE_CHARS is reported and skipped up to its end.
 */
async function* jsonlEntries(input: Readable): AsyncGenerator<FileEntry> {
  const decoder = new StringDecoder('utf8');
  let line = 0;
  let pending = '';
  let oversized = false;
  const entry = (text: string): FileEntry | null => {
    line++;
    if (oversized) {
      oversized = false;
      return { line, error: `line is longer than ${MAX_LINE_CHARS} characters` };
    }
    const trimmed = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (trimmed.trim() === '') return null;
    try {
      return { line, raw: JSON.parse(trimmed) };
    } catch (err) {
      return { line, error: `not valid JSON: ${(err as Error).message}` };
    }
  };
  for await (const chunk of input) {
    const parts = (pending + decoder.write(chunk as Buffer)).split('\n');
    pending = parts.pop()!;
    for (const text of parts) {
      const e = entry(text);
      if (e) yield e;
    }
    if (pending.length > MAX_LINE_CHARS) {
      oversized = true;
      pending = '';
    }
  }
  pending += decoder.end();
  if (pending !== '' || oversized) {
    const e = entry(pending);
    if (e) yield e;
  }
}

const count = (values: Record<string, unknown>, re: RegExp) =>
  Object.values(values).reduce<number>((n, v) => n + (typeof v === 'string' ? (v.match(re)?.length ?? 0) : 0), 0);

/**
 * CSV records with the line each starts on. csv-parse reports the line a record ends on, and counts a CRLF inside a
 * quoted field as two lines (one outside); both are corrected here, in parse order (on_record and on_skip run
 * synchronously as the parser meets them), so a multi-line field does not shift every later line number.
 */
async function* csvEntries(input: Readable): AsyncGenerator<FileEntry> {
  const skipped: FileEntry[] = [];
  const reportedSkips = new Set<number>();
  let drift = 0;
  const parser = input.pipe(
    parseCsv({
      bom: true,
      columns: (header: string[]) => {
        const names = header.map((h) => String(h).trim().toLowerCase());
        const missing = REQUIRED_COLUMNS.filter((c) => !names.includes(c));
        if (missing.length)
          throw new AppError(
            'validation_failed',
            `the CSV header row must name the columns ${REQUIRED_COLUMNS.join(', ')} (missing ${missing.join(', ')})`,
          );
        return names;
      },
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_record: (record: Record<string, unknown>, context: { lines: number }) => {
        drift += count(record, /\r\n/g);
        const end = context.lines - drift;
        return { line: end - count(record, /\r\n|\n/g), raw: record };
      },
      on_skip: (err) => {
        const line = ((err as (Error & { lines?: number }) | undefined)?.lines ?? 0) - drift;
        // An unclosed quote is reported where it breaks and again at the end of the file: one problem, one entry.
        if (!reportedSkips.has(line))
          skipped.push({
            line,
            error: `not valid CSV: ${(err?.message ?? 'unreadable record').replace(/ at line \d+/, '')}`,
          });
        reportedSkips.add(line);
        return undefined;
      },
    }),
  );
  input.on('error', (err) => parser.destroy(err));
  for await (const entry of parser as AsyncIterable<FileEntry>) {
    while (skipped.length) yield skipped.shift()!;
    yield entry;
  }
  while (skipped.length) yield skipped.shift()!;
}

/**
 * Imports a JSONL or CSV file of feedback records for one company, streaming and in batches: memory stays flat
 * whatever the file size. Invalid lines are reported with their line numbers; duplicates (ids already stored) are
 * skipped. Records are stored unscored; the Shield processor scores them and raises alerts.
 */
export async function importFeedbackFile(
  ctx: DomainContext,
  companyCode: string,
  file: string,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const company = await getCompanyByCode(ctx.store.db, companyCode);
  const format = opts.format ?? detectFormat(file);
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? 500, 1_000));
  let totalBytes: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error('not a file');
    totalBytes = stat.size;
  } catch {
    throw new AppError('not_found', `cannot read ${file}: no such file`);
  }
  const input = createReadStream(file);
  const progress: ImportProgress = { bytesRead: 0, totalBytes, records: 0, imported: 0, skipped: 0, invalid: 0 };
  const invalid: InvalidLine[] = [];
  const report = (line: number, message: string) => {
    progress.invalid++;
    if (invalid.length < MAX_REPORTED_INVALID) invalid.push({ line, message });
  };

  let batch: FeedbackInput[] = [];
  // The last call reports the whole file as read: the bar ends at 100% even if the stream closed before counting it.
  const flush = async (final = false) => {
    if (batch.length) {
      const stored = await storeFeedback(ctx, company.id, batch);
      progress.imported += stored.accepted;
      progress.skipped += stored.duplicates;
      batch = [];
    }
    progress.bytesRead = final ? totalBytes : Math.min(input.bytesRead, totalBytes);
    opts.onProgress?.({ ...progress });
  };

  try {
    for await (const entry of format === 'csv' ? csvEntries(input) : jsonlEntries(input)) {
      progress.records++;
      if ('error' in entry) {
        report(entry.line, entry.error);
        continue;
      }
      const checked = checkFeedbackRecord(entry.raw, { strict: false });
      if (!checked.ok) report(entry.line, checked.problem.message);
      else batch.push(checked.record);
      if (batch.length >= batchSize) await flush();
    }
  } finally {
    input.destroy();
  }
  await flush(true);
  invalid.sort((a, b) => a.line - b.line);
  return { imported: progress.imported, skipped: progress.skipped, invalid, invalid_total: progress.invalid };
}
