import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock.js';
import { createCompany } from '../../src/domain/companies.js';
import { runCli } from '../../src/cli/program.js';
import { bearer } from '../helpers/harness.js';
import { createCliEnv, dropFileDatabase, type CliEnv } from './cli-harness.js';

describe('escalatr company, user, apikey and consumer commands', () => {
  afterAll(dropFileDatabase);
  let cli: CliEnv;
  beforeEach(async () => {
    cli = await createCliEnv();
  });
  afterEach(async () => cli.cleanup());

  it('company create makes a company; the same code again is refused with exit 1 and the error code', async () => {
    const first = await cli.run([
      'company',
      'create',
      '--name',
      'Acme Stores',
      '--code',
      'ACME',
      '--plan',
      'starter',
      '--json',
    ]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      code: 'ACME',
      name: 'Acme Stores',
      plan: 'starter',
      id: expect.stringMatching(/^co_/),
    });

    const again = await cli.run(['company', 'create', '--name', 'Other', '--code', 'ACME', '--plan', 'free']);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/^escalatr: already_exists: .*ACME/);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('missing or invalid options exit 2 naming the option, on one line, before touching the store', async () => {
    const spawned = await Promise.all([
      cli.run(['company', 'create', '--name', 'Acme', '--plan', 'starter']),
      cli.run(['apikey', 'create', '--company', 'ACME', '--name', 'ci', '--scope', 'write']),
      cli.run(['frobnicate']),
    ]);
    expect(spawned.map((r) => r.code)).toEqual([2, 2, 2]);
    expect(spawned[0].stderr).toBe("escalatr: error: required option '--code <code>' not specified\n");
    expect(spawned[1].stderr).toMatch(/^escalatr: error: option '--scope <scope>' argument 'write' is invalid/);
    expect(spawned[2].stderr).toMatch(/^escalatr: error: unknown command 'frobnicate'/);
    for (const r of spawned) expect(r.stdout).toBe('');
    expect(existsSync(join(cli.dataDir, 'escalatr.db'))).toBe(false);
  });

  it('checks every option at the boundary (in-process, the same code path as the binary)', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['company', 'create', '--name', 'Acme', '--code', 'acme', '--plan', 'starter'],
        /'--code <code>' argument 'acme' is invalid\. code must be 2–8 uppercase letters/,
      ],
      [['company', 'create', '--name', 'Acme', '--code', 'TOOLONGCODE', '--plan', 'starter'], /--code/],
      [
        ['company', 'create', '--name', 'Acme', '--code', 'ACME', '--plan', 'gold'],
        /'--plan <plan>' argument 'gold' is invalid\. Allowed choices are free, starter, professional, enterprise/,
      ],
      [
        ['company', 'create', '--name', '  ', '--code', 'ACME', '--plan', 'free'],
        /'--name <name>' .*must not be empty/,
      ],
      [
        ['company', 'create', '--name', 'x'.repeat(201), '--code', 'ACME', '--plan', 'free'],
        /'--name <name>' .*at most 200/,
      ],
      [
        ['company', 'create', '--name', 'Acme', '--code', 'ACME', '--plan', 'free', '--colour', 'red'],
        /unknown option '--colour'/,
      ],
      [['company', 'set-retention', '--code', 'ACME', '--days', '0'], /'--days <days>' argument '0' is invalid/],
      [['company', 'set-retention', '--code', 'ACME', '--days', '-3'], /'--days <days>'/],
      [['company', 'set-retention', '--code', 'ACME', '--days', '1.5'], /'--days <days>' argument '1.5' is invalid/],
      [['company', 'set-retention', '--code', 'ACME', '--days', 'ten'], /'--days <days>' argument 'ten' is invalid/],
      [['company', 'set-retention', '--code', 'ACME', '--days', '3651'], /from 1 to 3650/],
      [['company', 'set-retention', '--code', 'ACME'], /required option '--days <days>'/],
      [['company', 'set-plan', '--code', 'ACME'], /required option '--plan <plan>'/],
      [['company', 'create', '--name', 'Acme', '--code', 'ACME', '--plan', 'free', 'extra'], /too many arguments/],
      [
        [
          'user',
          'create',
          '--company',
          'ACME',
          '--email',
          'not-an-email',
          '--password',
          'long enough pw',
          '--role',
          'agent',
        ],
        /'--email <email>' .*not a valid email/,
      ],
      [
        ['user', 'create', '--company', 'ACME', '--email', 'a@b.test', '--password', 'short', '--role', 'agent'],
        /'--password <password>' .*at least 10 characters/,
      ],
      [
        [
          'user',
          'create',
          '--company',
          'ACME',
          '--email',
          'a@b.test',
          '--password',
          'long enough pw',
          '--role',
          'boss',
        ],
        /'--role <role>' argument 'boss'/,
      ],
      [
        [
          'user',
          'create',
          '--company',
          'acme',
          '--email',
          'a@b.test',
          '--password',
          'long enough pw',
          '--role',
          'agent',
        ],
        /'--company <code>'/,
      ],
      [['apikey', 'list'], /required option '--company <code>'/],
      [['apikey', 'revoke', '--company', 'ACME'], /required option '--id <id>'/],
      [['consumer', 'create', '--name', 'Bob'], /required option '--email <email>'/],
      [['shield', 'import', '--company', 'ACME'], /missing required argument 'file'/],
      [['company'], /Usage: escalatr company/],
    ];
    for (const [args, pattern] of cases) {
      let stderr = '';
      const code = await runCli(['node', 'escalatr', ...args], (t) => (stderr += t));
      expect.soft(code, args.join(' ')).toBe(2);
      expect.soft(stderr, args.join(' ')).toMatch(pattern);
      expect.soft(stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(join(cli.dataDir, 'escalatr.db'))).toBe(false);
  });

  it('company set-retention sets any window within the operator bounds, beyond the plan too', async () => {
    const { app } = await cli.openApp();
    const shop = await createCompany(app.ctx, { name: 'Shop', code: 'SHOP', plan: 'free' });
    const set = await cli.run(['company', 'set-retention', '--code', 'SHOP', '--days', '400', '--json']);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({ code: 'SHOP', days: 400, plan: 'free', plan_days: 7 });
    const row = await app.store.db
      .selectFrom('companies')
      .select('retention_days')
      .where('id', '=', shop.id)
      .executeTakeFirstOrThrow();
    expect(Number(row.retention_days)).toBe(400);
    const text = await cli.run(['company', 'set-retention', '--code', 'SHOP', '--days', '3']);
    expect(text.stdout).toMatch(/SHOP keeps history for 3 days/);
    const missing = await cli.run(['company', 'set-retention', '--code', 'NOPE', '--days', '3']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^escalatr: not_found: company NOPE/);
  });

  it('company set-retention takes a window in minutes, which days set later replace', async () => {
    const { app } = await cli.openApp();
    const shop = await createCompany(app.ctx, { name: 'Shop', code: 'SHOP', plan: 'free' });
    const window = () =>
      app.store.db
        .selectFrom('companies')
        .select(['retention_days', 'retention_minutes'])
        .where('id', '=', shop.id)
        .executeTakeFirstOrThrow()
        .then((r) => [r.retention_days, r.retention_minutes].map((v) => (v === null ? null : Number(v))));
    const set = await cli.run(['company', 'set-retention', '--code', 'SHOP', '--minutes', '2', '--json']);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({ code: 'SHOP', days: 1, minutes: 2, plan: 'free', plan_days: 7 });
    expect(await window()).toEqual([null, 2]);
    expect((await cli.run(['company', 'set-retention', '--code', 'SHOP', '--days', '3'])).stdout).toMatch(
      /SHOP keeps history for 3 days/,
    );
    expect(await window()).toEqual([3, null]);
    for (const args of [
      ['--code', 'SHOP'],
      ['--code', 'SHOP', '--days', '3', '--minutes', '2'],
      ['--code', 'SHOP', '--minutes', '0'],
    ]) {
      let stderr = '';
      const code = await runCli(['node', 'escalatr', 'company', 'set-retention', ...args], (t) => (stderr += t));
      expect.soft(code, args.join(' ')).toBe(2);
      expect.soft(stderr, args.join(' ')).toMatch(/--minutes|--days/);
    }
    expect(await window()).toEqual([3, null]);
  });

  it('refuses an API key below professional, then creates, lists and revokes keys after an upgrade', async () => {
    const clock = new ManualClock(Date.now());
    const { app } = await cli.openApp({ clock });
    await createCompany(app.ctx, { name: 'Shop', code: 'SHOP', plan: 'starter' });
    const refused = await cli.run(['apikey', 'create', '--company', 'SHOP', '--name', 'ci', '--json']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^escalatr: plan_required: /);

    expect((await cli.run(['company', 'set-plan', '--code', 'SHOP', '--plan', 'professional'])).stdout).toMatch(
      /professional/,
    );
    const created = await cli.run([
      'apikey',
      'create',
      '--company',
      'SHOP',
      '--name',
      'ci',
      '--scope',
      'admin',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key).toMatchObject({
      name: 'ci',
      scope: 'admin',
      company: 'SHOP',
      key: expect.stringMatching(/^esc_/),
      id: expect.stringMatching(/^key_/),
    });
    expect(key.key.startsWith(key.prefix)).toBe(true);
    const text = await cli.run(['apikey', 'create', '--company', 'SHOP', '--name', 'reporting']);
    expect(text.stdout).toMatch(/read API key "reporting"/);
    expect(text.stdout).toMatch(/esc_\S{40,}/);

    const listed = JSON.parse((await cli.run(['apikey', 'list', '--company', 'SHOP', '--json'])).stdout);
    expect(listed.map((k: { name: string }) => k.name).sort()).toEqual(['ci', 'reporting']);
    expect(JSON.stringify(listed)).not.toContain(key.key);

    const before = await app.http.inject({ method: 'GET', url: '/api/v1/complaints', headers: bearer(key.key) });
    expect(before.statusCode).toBe(200);

    // The CLI is another process: a running server that verified the key lately drops it once it hears of the
    // commit (PostgreSQL's NOTIFY, SQLite's commit counter), without waiting for its memory of the key to expire.
    await app.ctx.wakeups.ready();
    const heard = new Promise<void>((resolve) => {
      const s = app.ctx.wakeups.subscribe('credentials', () => {
        void s.close();
        resolve();
      });
    });
    const revoked = await cli.run(['apikey', 'revoke', '--company', 'SHOP', '--id', key.id]);
    expect(revoked.code).toBe(0);
    await heard;
    const after = await app.http.inject({ method: 'GET', url: '/api/v1/complaints', headers: bearer(key.key) });
    expect(after.statusCode).toBe(401);

    // Another company's key id answers like a missing one.
    await createCompany(app.ctx, { name: 'Rival', code: 'RIVAL', plan: 'enterprise' });
    const foreign = await cli.run(['apikey', 'revoke', '--company', 'RIVAL', '--id', key.id]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/^escalatr: not_found: /);
  });

  it('consumer create prints a working consumer token; user create makes a login', async () => {
    const made = await cli.run(['consumer', 'create', '--email', 'Bob@Example.test', '--name', 'Bob', '--json']);
    expect(made.code).toBe(0);
    const consumer = JSON.parse(made.stdout);
    expect(consumer).toMatchObject({ email: 'bob@example.test', name: 'Bob', token: expect.stringMatching(/^csk_/) });
    const text = await cli.run(['consumer', 'create', '--email', 'bob@example.test']);
    expect(text.stderr).toBe('');
    expect(text.stdout).toMatch(/csk_\S{40,}/);

    const { app } = await cli.openApp();
    await createCompany(app.ctx, { name: 'Shop', code: 'SHOP', plan: 'free' });
    const user = await cli.run([
      'user',
      'create',
      '--company',
      'SHOP',
      '--email',
      'agent@shop.test',
      '--password',
      'a long password',
      '--role',
      'agent',
      '--json',
    ]);
    expect(user.code).toBe(0);
    expect(JSON.parse(user.stdout)).toMatchObject({ email: 'agent@shop.test', role: 'agent', company: 'SHOP' });
    const dup = await cli.run([
      'user',
      'create',
      '--company',
      'SHOP',
      '--email',
      'agent@shop.test',
      '--password',
      'a long password',
      '--role',
      'agent',
    ]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^escalatr: already_exists: /);

    const mine = await app.http.inject({
      method: 'GET',
      url: '/api/consumer/v1/complaints',
      headers: bearer(consumer.token),
    });
    expect(mine.statusCode).toBe(200);
    const login = await app.http.inject({
      method: 'POST',
      url: '/api/session/login',
      payload: { email: 'agent@shop.test', password: 'a long password' },
    });
    expect(login.statusCode).toBe(200);
  });

  it("consumer erase removes the consumer's data with an audit entry; again, or for an unknown address, it says so", async () => {
    const made = JSON.parse((await cli.run(['consumer', 'create', '--email', 'erin@example.test', '--json'])).stdout);
    const { app } = await cli.openApp();
    await createCompany(app.ctx, { name: 'Shop', code: 'SHOP', plan: 'free' });
    const filed = await app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(made.token),
      payload: { company_code: 'SHOP', complaint_category: 'Other', title: 'Erin is unhappy', description: 'Words' },
    });
    expect(filed.statusCode).toBe(201);

    const erased = await cli.run(['consumer', 'erase', '--email', 'Erin@Example.test', '--vacuum', '--json']);
    expect(erased.code, erased.stderr).toBe(0);
    expect(JSON.parse(erased.stdout)).toMatchObject({
      found: true,
      consumer_removed: true,
      complaints_redacted: 1,
      audit_id: expect.stringMatching(/^aud_/),
      file_rebuilt: !cli.databaseUrl,
    });
    const again = await cli.run(['consumer', 'erase', '--email', 'erin@example.test']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^Nothing of erin@example.test is stored/);
    const audit = await app.ctx.store.db.selectFrom('audit_log').selectAll().execute();
    expect(audit.map((a) => a.actor.startsWith('cli:'))).toEqual([true, true]);
    expect(JSON.stringify(audit)).not.toContain('erin@');
    expect((await cli.run(['consumer', 'erase', '--email', 'not-an-address'])).code).toBe(2);
  });

  it('a bad environment variable is named, with exit 1 and no stack trace', async () => {
    const [port, schedule, level] = await Promise.all([
      cli.run(['company', 'create', '--name', 'Acme', '--code', 'ACME', '--plan', 'free'], { PORT: 'abc' }),
      cli.run(['serve'], { ESCALATR_RETRY_SCHEDULE: 'fast' }),
      cli.run(['demo'], { LOG_LEVEL: 'loud' }),
    ]);
    expect(port.code).toBe(1);
    expect(port.stderr).toMatch(/^escalatr: PORT: /);
    expect(schedule.code).toBe(1);
    expect(schedule.stderr).toMatch(/^escalatr: ESCALATR_RETRY_SCHEDULE: .*fast/);
    expect(level.code).toBe(1);
    expect(level.stderr).toMatch(/^escalatr: LOG_LEVEL: /);
    for (const r of [port, schedule, level]) {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });
});
