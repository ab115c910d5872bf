import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { importFeedbackFile, type ImportProgress } from '../../src/shield/import.js';
import { createImportProgressBar } from '../../src/shield/import-progress.js';
import { CALM, createAutomationOk, EXTREME, processorFor } from './shield-helpers.js';

describe('shield feedback file import', () => {
  let t: TestApp;
  let dir: string;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  beforeEach(async () => {
    t = await createTestApp();
    tenant = await seedTenant(t);
    dir = mkdtempSync(join(tmpdir(), 'shield-import-'));
  });
  afterEach(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const stored = () =>
    t.store.db
      .selectFrom('feedback_records')
      .select(['record_id', 'source', 'content', 'thread_id', 'source_created_at'])
      .orderBy('record_id')
      .execute();

  it('imports JSONL, reporting invalid lines by number and skipping duplicates', async () => {
    const lines = [
      JSON.stringify({ id: 'j1', source: 'ZendeskSupport', content: CALM, thread_id: 't', extra_column: 'ignored' }),
      '',
      '{"id": "j2", "source": "Intercom", "content": "broken json"',
      JSON.stringify({ id: 'j3', source: 'Intercom' }),
      JSON.stringify({ id: 'j1', source: 'ZendeskSupport', content: 'again' }),
      '[1,2,3]',
      JSON.stringify({ id: 'j4', source: 'Intercom', content: EXTREME, created_at: '2026-06-27T11:58:00Z' }),
    ];
    const progress: ImportProgress[] = [];
    const result = await importFeedbackFile(t.app.ctx, 'VOLT', file('feedback.jsonl', lines.join('\n') + '\n'), {
      onProgress: (p) => progress.push(p),
      batchSize: 2,
    });
    expect(result).toEqual({
      imported: 2,
      skipped: 1,
      invalid: [
        { line: 3, message: expect.stringContaining('not valid JSON') },
        { line: 4, message: 'content is required' },
        { line: 6, message: 'a feedback record must be a JSON object' },
      ],
      invalid_total: 3,
    });
    expect((await stored()).map((r) => r.record_id)).toEqual(['j1', 'j4']);
    expect((await stored())[1].source_created_at).toBe(Date.parse('2026-06-27T11:58:00Z'));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const last = progress[progress.length - 1];
    expect(last).toMatchObject({ imported: 2, skipped: 1, invalid: 3 });
    expect(last.bytesRead).toBe(last.totalBytes);

    // Imported records are scored and alert like API ones.
    await createAutomationOk(t, tenant.adminKey, { destinations: [] });
    const pass = await processorFor(t).tick();
    expect(pass).toEqual({ scored: 2, alerts: 1 });
  });

  it('imports CSV with a header row, quoted multi-line fields and extra columns', async () => {
    const csv = [
      'ID,source,content,created_at,thread_id,notes',
      'c1,ZendeskSupport,"Fine, thanks",,th-1,x',
      'c2,Intercom,"Line one',
      'line two ""quoted""",2026-06-27T11:58:00Z,,y',
      'c3,Intercom,,,,missing content',
      'c4,Intercom,"ok"x,,,bad quote',
    ].join('\r\n');
    const result = await importFeedbackFile(t.app.ctx, 'VOLT', file('feedback.csv', csv));
    expect(result.imported).toBe(2);
    expect(result.skipped).toBe(0);
    expect(result.invalid).toEqual([
      { line: 5, message: 'content is required' },
      { line: 6, message: expect.stringContaining('not valid CSV') },
    ]);
    const rows = await stored();
    expect(rows.map((r) => r.record_id)).toEqual(['c1', 'c2']);
    expect(rows[0]).toMatchObject({ content: 'Fine, thanks', thread_id: 'th-1', source_created_at: null });
    expect(rows[1].content).toBe('Line one\r\nline two "quoted"');
  });

  it('reports CSV rows with the wrong number of columns by line and keeps going', async () => {
    const csv = 'id,source,content\nk1,Z,first\nk2,Z\nk3,Z,third,extra\nk4,Z,fourth\n';
    const result = await importFeedbackFile(t.app.ctx, 'VOLT', file('cols.csv', csv));
    expect(result.imported).toBe(2);
    expect(result.invalid.map((i) => i.line)).toEqual([3, 4]);
    expect((await stored()).map((r) => r.record_id)).toEqual(['k1', 'k4']);
  });

  it('refuses a CSV without the required columns, an unknown format and an unknown company', async () => {
    await expect(importFeedbackFile(t.app.ctx, 'VOLT', file('bad.csv', 'identifier,text\n1,hello\n'))).rejects.toThrow(
      /header row must name the columns id, source, content/,
    );
    await expect(importFeedbackFile(t.app.ctx, 'VOLT', file('data.txt', '{}\n'))).rejects.toThrow(
      /\.jsonl, \.ndjson or \.csv/,
    );
    await expect(importFeedbackFile(t.app.ctx, 'NOPE', file('ok.jsonl', '{}\n'))).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(importFeedbackFile(t.app.ctx, 'VOLT', join(dir, 'missing.jsonl'))).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(importFeedbackFile(t.app.ctx, 'VOLT', dir, { format: 'jsonl' })).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(await stored()).toHaveLength(0);
  });

  it('reads CRLF JSONL and refuses an oversized line without losing the next one', async () => {
    const text = [
      JSON.stringify({ id: 'w1', source: 'Z', content: 'first' }),
      JSON.stringify({ id: 'w2', source: 'Z', content: 'x'.repeat(1_200_000) }),
      JSON.stringify({ id: 'w3', source: 'Z', content: 'ünïcödé 🙂' }),
    ].join('\r\n');
    const result = await importFeedbackFile(t.app.ctx, 'VOLT', file('crlf.jsonl', text));
    expect(result.imported).toBe(2);
    expect(result.invalid).toEqual([{ line: 2, message: 'line is longer than 1000000 characters' }]);
    expect((await stored()).map((r) => r.content)).toEqual(['first', 'ünïcödé 🙂']);
  });

  it('streams a large file in batches', async () => {
    const lines = Array.from({ length: 2_500 }, (_, i) =>
      JSON.stringify({ id: `big-${i}`, source: 'Z', content: `message number ${i}` }),
    );
    const progress: ImportProgress[] = [];
    const result = await importFeedbackFile(t.app.ctx, 'VOLT', file('big.ndjson', lines.join('\n')), {
      onProgress: (p) => progress.push(p),
    });
    expect(result).toMatchObject({ imported: 2_500, skipped: 0, invalid: [] });
    expect(progress.map((p) => p.imported)).toEqual([500, 1000, 1500, 2000, 2500, 2500]);
  });

  it('draws a progress bar from import progress', () => {
    const out = new PassThrough() as unknown as NodeJS.WriteStream;
    let text = '';
    (out as unknown as PassThrough).on('data', (c: Buffer) => (text += c.toString()));
    Object.assign(out, {
      isTTY: true,
      columns: 120,
      cursorTo: () => true,
      clearLine: () => true,
      moveCursor: () => true,
    });
    const bar = createImportProgressBar(2048, out);
    bar.onProgress({ bytesRead: 1024, totalBytes: 2048, records: 10, imported: 8, skipped: 1, invalid: 1 });
    bar.onProgress({ bytesRead: 2048, totalBytes: 2048, records: 20, imported: 18, skipped: 1, invalid: 1 });
    bar.stop();
    expect(text).toContain('18 imported, 1 duplicates, 1 invalid');
    expect(text).toContain('100%');
  });
});
