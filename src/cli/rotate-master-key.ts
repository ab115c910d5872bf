import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { ConfigError } from '../config.js';
import { AppError } from '../errors.js';
import { SecretBox } from '../security/secret-box.js';
import type { Store } from '../storage/db.js';
import { options } from './options.js';
import { printJson, printLines, withRuntime } from './runtime.js';

/**
 * Every column sealed with the master key (AES-256-GCM, src/security/secret-box.ts). A new sealed column must be
 * added here, or rotating the key would leave it unreadable.
 */
export const SEALED_COLUMNS = [
  { table: 'endpoints', columns: ['secret_enc', 'prev_secret_enc', 'auth_enc', 'url_password_enc'] },
  { table: 'destinations', columns: ['config_enc'] },
] as const;

export interface RotationResult {
  endpoints: number;
  destinations: number;
  /** Sealed values re-sealed (or, in a dry run, checked). */
  values: number;
}

/** A 32-byte key from 64 hex characters or base64, as ESCALATR_MASTER_KEY takes it. */
function parseMasterKey(raw: string, variable: string): Buffer {
  const text = raw.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new ConfigError(variable, 'must be 32 bytes, as 64 hex characters or base64');
  return key;
}

/**
 * Opens every sealed value with `oldKey` and seals it again with `newKey`, all in one transaction: either every
 * value moves to the new key or none does. A value the old key cannot open aborts the whole rotation, naming the
 * row, so a wrong "current" key never half-rotates a store. With `dryRun`, only checks that every value opens.
 */
export async function rotateMasterKey(
  store: Store,
  oldKey: Buffer,
  newKey: Buffer,
  opts: { dryRun?: boolean } = {},
): Promise<RotationResult> {
  if (oldKey.equals(newKey)) throw new AppError('invalid_request', 'the new master key is the current one');
  const from = new SecretBox(oldKey);
  const to = new SecretBox(newKey);
  const reseal = (where: string, sealed: string | null): string | null => {
    if (sealed === null) return null;
    let plain: string;
    try {
      plain = from.open(sealed);
    } catch {
      throw new AppError(
        'invalid_request',
        `${where} cannot be opened with the current master key; nothing was changed`,
      );
    }
    const next = to.seal(plain);
    // Belt and braces: what was written must open with the new key before anything commits.
    if (to.open(next) !== plain) throw new Error(`${where}: re-sealed value does not open with the new key`);
    return next;
  };

  return store.db.transaction().execute(async (tx) => {
    const result: RotationResult = { endpoints: 0, destinations: 0, values: 0 };
    let endpointsQuery = tx
      .selectFrom('endpoints')
      .select(['id', 'secret_enc', 'prev_secret_enc', 'auth_enc', 'url_password_enc'])
      .orderBy('id');
    if (store.profile.rowLocks) endpointsQuery = endpointsQuery.forUpdate();
    for (const row of await endpointsQuery.execute()) {
      const secret = reseal(`endpoint ${row.id} secret_enc`, row.secret_enc)!;
      const prev = reseal(`endpoint ${row.id} prev_secret_enc`, row.prev_secret_enc);
      const auth = reseal(`endpoint ${row.id} auth_enc`, row.auth_enc);
      const urlPassword = reseal(`endpoint ${row.id} url_password_enc`, row.url_password_enc);
      result.endpoints++;
      result.values += [row.secret_enc, row.prev_secret_enc, row.auth_enc, row.url_password_enc].filter(
        (v) => v !== null,
      ).length;
      if (!opts.dryRun)
        await tx
          .updateTable('endpoints')
          .set({ secret_enc: secret, prev_secret_enc: prev, auth_enc: auth, url_password_enc: urlPassword })
          .where('id', '=', row.id)
          .execute();
    }
    let destinationsQuery = tx.selectFrom('destinations').select(['id', 'config_enc']).orderBy('id');
    if (store.profile.rowLocks) destinationsQuery = destinationsQuery.forUpdate();
    for (const row of await destinationsQuery.execute()) {
      const config = reseal(`destination ${row.id} config_enc`, row.config_enc)!;
      result.destinations++;
      result.values++;
      if (!opts.dryRun)
        await tx.updateTable('destinations').set({ config_enc: config }).where('id', '=', row.id).execute();
    }
    return result;
  });
}

/** Writes a key file the way the service makes its own: base64, mode 0600. */
function writeKeyFile(file: string, key: Buffer): void {
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

/**
 * `rotate-master-key`: re-seals every webhook secret, endpoint credential and Shield destination under a new master
 * key, in one transaction. Stop every `serve` and `worker` process first (they hold the old key in memory).
 *
 * The new key comes from ESCALATR_NEW_MASTER_KEY, or `--generate` makes one. When the current key lives in the
 * key file (no ESCALATR_MASTER_KEY), the file is replaced: the new key is written beside it before the
 * transaction (so a crash between the commit and the rename leaves it in `master.key.next`, never lost) and
 * renamed over it after. When the current key comes from ESCALATR_MASTER_KEY, set it to the new key before
 * starting the service again.
 */
export function registerRotateMasterKey(program: Command): void {
  program
    .command('rotate-master-key')
    .description(
      're-seal every stored secret and credential under a new master key (stop serve and worker processes first)',
    )
    .addOption(new Option('--generate', 'generate the new key (otherwise it is read from ESCALATR_NEW_MASTER_KEY)'))
    .addOption(new Option('--dry-run', 'only check that every sealed value opens with the current key; change nothing'))
    .addOption(options.json())
    .action(async (o: { generate?: boolean; dryRun?: boolean; json?: boolean }) => {
      const fromEnv = Boolean((process.env.ESCALATR_MASTER_KEY ?? '').trim());
      const supplied = (process.env.ESCALATR_NEW_MASTER_KEY ?? '').trim();
      if (!o.dryRun && !o.generate && !supplied)
        throw new ConfigError(
          'ESCALATR_NEW_MASTER_KEY',
          'is not set; set it to the new key (64 hex characters or base64 of 32 bytes), or pass --generate',
        );
      if (o.generate && supplied)
        throw new ConfigError('ESCALATR_NEW_MASTER_KEY', 'is set and --generate was passed; use one or the other');
      const newKey = o.dryRun
        ? randomBytes(32)
        : o.generate
          ? randomBytes(32)
          : parseMasterKey(supplied, 'ESCALATR_NEW_MASTER_KEY');

      const outcome = await withRuntime(async ({ config, store }) => {
        const keyFile = join(config.dataDir, 'master.key');
        const nextFile = `${keyFile}.next`;
        const replaceFile = !fromEnv && !o.dryRun;
        if (replaceFile) {
          if (existsSync(nextFile))
            throw new AppError(
              'conflict',
              `${nextFile} exists: a previous rotation may not have finished; check which key opens the store, then remove it`,
            );
          writeKeyFile(nextFile, newKey);
        }
        let result: RotationResult;
        try {
          result = await rotateMasterKey(store, config.masterKey, newKey, { dryRun: o.dryRun });
        } catch (err) {
          if (replaceFile) rmSync(nextFile, { force: true });
          throw err;
        }
        if (replaceFile) renameSync(nextFile, keyFile);
        return { result, keyFile: replaceFile ? keyFile : null };
      });

      const printKey = !o.dryRun && fromEnv && o.generate;
      if (o.json) {
        return printJson({
          ...outcome.result,
          dry_run: Boolean(o.dryRun),
          key_file: outcome.keyFile,
          ...(printKey ? { new_master_key: newKey.toString('hex') } : {}),
        });
      }
      const { endpoints, destinations, values } = outcome.result;
      if (o.dryRun)
        return printLines(
          `All ${values} sealed values (${endpoints} endpoints, ${destinations} destinations) open with the current master key. Nothing was changed.`,
        );
      const lines = [
        `Re-sealed ${values} values (${endpoints} endpoints, ${destinations} destinations) under the new master key, in one transaction.`,
      ];
      if (outcome.keyFile) lines.push(`The new key replaced ${outcome.keyFile} (mode 0600).`);
      else if (printKey)
        lines.push(
          '',
          'The new master key (shown once; store it where ESCALATR_MASTER_KEY comes from):',
          '',
          `  ${newKey.toString('hex')}`,
          '',
        );
      if (fromEnv)
        lines.push('Set ESCALATR_MASTER_KEY to the new key before starting serve or worker processes again.');
      lines.push('The old key now opens only backups taken before this rotation.');
      printLines(...lines);
    });
}
