import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AppError } from '../../src/errors.js';
import { importFeedbackFile } from '../../src/shield/import.js';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import { tenant } from '../api/platform-fixtures.js';
import { changedTables, snapshot } from './table-snapshot.js';
import { hostileString, hostileValue } from './hostile.js';

/**
 * The CLI's feedback importer (`escalatr shield import FILE`) fed hostile files: JSONL lines of any JSON, broken
 * JSON, wrong-typed and hostile fields, unicode edge cases; CSV rows with hostile cells, broken quoting, missing
 * columns. It must never crash with anything but a clear AppError, must count every non-blank line exactly once
 * (imported, skipped as a duplicate, or reported invalid with its line number), and must write only the records it
 * says it imported, and nothing anywhere else.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 30);

// No line breaks inside a generated line: a line is what the importer counts.
const oneLine = (s: string) => s.replace(/[\r\n\u2028\u2029]/g, ' ');
const field = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: hostileValue },
);
const recordish = fc.record(
  {
    id: fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), field),
    source: fc.oneof(fc.constantFrom('Zendesk', 'Intercom'), field),
    content: fc.oneof(fc.lorem(), field),
    created_at: field,
    thread_id: field,
    source_url: field,
    extra: field,
  },
  { requiredKeys: [] },
);
const jsonlLine = fc.oneof(
  { weight: 4, arbitrary: recordish.map((r) => JSON.stringify(r)) },
  { weight: 2, arbitrary: hostileValue.map((v) => JSON.stringify(v) ?? 'null') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{',
      '{"id":',
      'nul',
      '[1,',
      '{"id":"x","source":"s","content":"c"',
      "{'id':1}",
      '\ufeff{"id":"b"}',
      '   ',
      '',
    ),
  },
  { weight: 1, arbitrary: hostileString.map(oneLine) },
);

const csvCell = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: hostileString },
);
/** A cell quoted properly, left raw (commas, quotes and newlines break the row), or quoted badly. */
const csvText = fc
  .tuple(csvCell, fc.constantFrom('quoted', 'raw', 'broken'))
  .map(([v, how]) => (how === 'quoted' ? `"${v.replace(/"/g, '""')}"` : how === 'raw' ? v : `"${v}`));
const csvHeader = fc.oneof(
  { weight: 4, arbitrary: fc.constant('id,source,content,created_at,thread_id') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'ID,Source,Content',
      'id,content',
      '',
      '"id,source,content',
      'id;source;content',
      '\ufeffid,source,content',
    ),
  },
);

describe('fuzzing the feedback importer with hostile files', () => {
  let t: TestApp;
  let dir: string;
  let n = 0;
  beforeAll(async () => {
    t = await createTestApp();
    await tenant(t, 'VOLT');
    dir = mkdtempSync(join(tmpdir(), 'escalatr-fuzz-import-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (ext: string, text: string) => {
    const file = join(dir, `f${n++}.${ext}`);
    writeFileSync(file, text);
    return file;
  };
  const feedbackRows = async () =>
    Number(
      (
        await t.store.db
          .selectFrom('feedback_records')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const others = (snap: Record<string, number>) =>
    Object.fromEntries(Object.entries(snap).filter(([k]) => k !== 'n_feedback_records'));

  it('JSONL: every non-blank line is imported, skipped or reported; only imported records are written', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(jsonlLine, { maxLength: 25 }), fc.constantFrom('\n', '\r\n'), async (lines, eol) => {
        const before = await snapshot(t.store.db);
        const rows = await feedbackRows();
        const result = await importFeedbackFile(t.app.ctx, 'VOLT', write('jsonl', lines.join(eol)), { batchSize: 7 });
        const counted = lines.filter((l) => l.trim() !== '').length;
        expect(result.imported + result.skipped + result.invalid_total).toBe(counted);
        expect(await feedbackRows()).toBe(rows + result.imported);
        for (const bad of result.invalid) {
          expect(bad.line).toBeGreaterThanOrEqual(1);
          expect(bad.line).toBeLessThanOrEqual(lines.length);
          expect(lines[bad.line - 1].trim()).not.toBe('');
          expect(bad.message).toEqual(expect.any(String));
        }
        expect(changedTables(others(before), others(await snapshot(t.store.db)))).toEqual([]);
      }),
      { numRuns: RUNS, seed: 1_234_567, endOnFailure: true },
    );
  });

  it('CSV: hostile cells and broken quoting never crash it; a bad header is a clear AppError that writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        csvHeader,
        fc.array(fc.array(csvText, { minLength: 1, maxLength: 6 }), { maxLength: 15 }),
        async (header, rows) => {
          const before = await snapshot(t.store.db);
          const count = await feedbackRows();
          const text = [header, ...rows.map((r) => r.join(','))].join('\r\n');
          let result;
          try {
            result = await importFeedbackFile(t.app.ctx, 'VOLT', write('csv', text));
          } catch (err) {
            // The only acceptable failure: a header without the required columns, refused before any record.
            expect(err).toBeInstanceOf(AppError);
            expect((err as AppError).status).toBeLessThan(500);
            expect(changedTables(before, await snapshot(t.store.db))).toEqual([]);
            return;
          }
          expect(await feedbackRows()).toBe(count + result.imported);
          expect(result.invalid_total).toBeGreaterThanOrEqual(result.invalid.length);
          for (const bad of result.invalid) expect(bad.line).toBeGreaterThanOrEqual(1);
          expect(changedTables(others(before), others(await snapshot(t.store.db)))).toEqual([]);
        },
      ),
      { numRuns: RUNS, seed: 7_654_321, endOnFailure: true },
    );
  });

  it('a file that is not there, is a directory, or has an unknown format is a clear AppError', async () => {
    await expect(importFeedbackFile(t.app.ctx, 'VOLT', join(dir, 'missing.jsonl'))).rejects.toBeInstanceOf(AppError);
    await expect(importFeedbackFile(t.app.ctx, 'VOLT', dir, { format: 'jsonl' })).rejects.toBeInstanceOf(AppError);
    await expect(importFeedbackFile(t.app.ctx, 'VOLT', write('txt', '{}'))).rejects.toBeInstanceOf(AppError);
    await expect(importFeedbackFile(t.app.ctx, 'NOPE', write('jsonl', '{}'))).rejects.toBeInstanceOf(AppError);
  });
});
