import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { configuredMasterKey, dataDirOf } from '../config.js';
import { AppError } from '../errors.js';
import { keyOpens } from '../security/master-key-check.js';
import { backupSqlite, inspectBackup, restoreSqlite } from '../storage/backup.js';
import { options } from './options.js';
import { printJson, printLines } from './runtime.js';

const POSTGRES_ROUTE = [
  'on PostgreSQL, back up and restore with PostgreSQL\'s own tools (see "Backup and restore" in the README):',
  '  while serving:   pg_dump --format=custom --file=escalatr.dump "$DATABASE_URL"',
  '  to restore:      stop every escalatr process, create an empty database, then',
  '                   pg_restore --no-owner --dbname="$NEW_DATABASE_URL" escalatr.dump',
  '                   and start escalatr with DATABASE_URL=$NEW_DATABASE_URL and the same ESCALATR_MASTER_KEY',
].join('\n');

/** Neither command opens the store through the runtime: a backup must not change it, a restore has none yet. */
function sqliteStoreFile(): string {
  if ((process.env.DATABASE_URL ?? '').trim()) throw new AppError('invalid_request', POSTGRES_ROUTE);
  return join(dataDirOf(process.env), 'escalatr.db');
}

/** `backup FILE` and `restore FILE`: the embedded SQLite store copied while it serves, and put back. */
export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('copy the SQLite store to FILE while it serves (PostgreSQL: prints the pg_dump route)')
    .argument('<file>', 'where to write the backup; must not exist')
    .addOption(options.json())
    .action((file: string, o: { json?: boolean }) => {
      const info = backupSqlite(sqliteStoreFile(), resolve(file));
      if (o.json) return printJson(info);
      printLines(
        `Backed up ${info.complaints} complaint(s) to ${info.file} (${info.bytes} bytes, schema ${info.schema}).`,
        'Webhook secrets in it are sealed with the master key: keep DATA_DIR/master.key (or ESCALATR_MASTER_KEY)',
        'safe as well, apart from the backup; a restore needs it.',
      );
    });

  program
    .command('restore')
    .description('put a backup FILE in place as the SQLite store of DATA_DIR (not while it is served)')
    .argument('<file>', 'a file made by `escalatr backup`')
    .option('--replace', 'set aside a store already in DATA_DIR (kept as escalatr.db.replaced-TIME)')
    .addOption(options.json())
    .action((file: string, o: { replace?: boolean; json?: boolean }) => {
      const target = sqliteStoreFile();
      const source = resolve(file);
      const info = inspectBackup(source);
      const dataDir = dataDirOf(process.env);
      const key = configuredMasterKey(process.env, dataDir);
      if (key && info.sealedSample !== null && !keyOpens(key, info.sealedSample)) {
        throw new AppError(
          'invalid_request',
          "the master key here (ESCALATR_MASTER_KEY or DATA_DIR/master.key) does not open the backup's webhook " +
            'secrets; nothing was restored. Use the master key of the data dir the backup was taken from.',
        );
      }
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const replaced = restoreSqlite(source, target, { replace: Boolean(o.replace), now: Date.now() });
      const keyNeeded = !key && info.sealedSample !== null;
      if (o.json)
        return printJson({
          file: target,
          complaints: info.complaints,
          schema: info.schema,
          replaced,
          master_key_needed: keyNeeded,
        });
      printLines(
        `Restored ${info.complaints} complaint(s) into ${target} (schema ${info.schema}; newer migrations run at start).`,
        ...(replaced ? [`The store that was there is kept as ${replaced}.`] : []),
        ...(keyNeeded
          ? [
              'Before starting: the backup holds webhook secrets sealed with the master key of the data dir it came',
              'from. Copy that master.key into DATA_DIR (mode 0600) or set ESCALATR_MASTER_KEY; without it the',
              'service refuses to start.',
            ]
          : []),
      );
    });
}
