import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/domain/api-keys.js';
import { createCompany } from '../../src/domain/companies.js';
import { bearer } from '../helpers/harness.js';
import { createCliEnv, dropFileDatabase, type CliEnv } from './cli-harness.js';

describe('escalatr shield import', () => {
  afterAll(dropFileDatabase);
  let cli: CliEnv;
  beforeEach(async () => {
    cli = await createCliEnv();
  });
  afterEach(async () => cli.cleanup());

  it('imports a JSONL file for a company, skipping duplicates and reporting invalid lines by number', async () => {
    const { app } = await cli.openApp();
    const company = await createCompany(app.ctx, { name: 'Volt', code: 'VOLT', plan: 'professional' });
    const { key } = await createApiKey(app.ctx, { companyId: company.id, name: 'admin', scope: 'admin' });
    const file = join(cli.dataDir, 'feedback.jsonl');
    const record = (id: string, content: string) =>
      JSON.stringify({ id, source: 'ZendeskSupport', content, created_at: '2026-04-17T09:00:00Z', thread_id: 't1' });
    writeFileSync(
      file,
      [
        record('r1', 'Thanks, all sorted.'),
        record('r2', 'I WILL SUE YOU and call my bank for a chargeback'),
        '{"id": "r3"}',
        record('r1', 'again'),
      ].join('\n') + '\n',
    );

    const r = await cli.run(['shield', 'import', file, '--company', 'VOLT', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ imported: 2, skipped: 1, invalid_total: 1 });
    expect(result.invalid).toEqual([{ line: 3, message: expect.stringMatching(/source|content/) }]);

    // Stored for the Shield processor of a running service to score.
    for (const [id, status] of [
      ['r1', 200],
      ['r2', 200],
      ['r3', 404],
    ] as const) {
      const got = await app.http.inject({ method: 'GET', url: `/api/v1/feedback/${id}`, headers: bearer(key) });
      expect(got.statusCode, id).toBe(status);
    }

    const again = await cli.run(['shield', 'import', file, '--company', 'VOLT']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Imported 0 feedback records .* \(3 duplicates skipped, 1 invalid\)/);
    expect(again.stderr).toMatch(/line 3: /);

    const missing = await cli.run(['shield', 'import', join(cli.dataDir, 'nope.jsonl'), '--company', 'VOLT']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^escalatr: not_found: cannot read /);
    const unknown = await cli.run(['shield', 'import', file, '--company', 'NOPE']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^escalatr: not_found: company NOPE/);
  });
});
