import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/**
 * A PostgreSQL streaming replica of the local server, made for a test or a benchmark and dropped after: a second
 * cluster (`pg_createcluster`) on a free 127.0.0.1 port, filled by `pg_basebackup -R` from the primary, started as a
 * hot standby. Replication is cluster-wide: it replays every database of the primary, ours among them.
 *
 * Needs root (to make and drop clusters and run pg_basebackup as the postgres user), Debian's postgresql-common
 * tools, and the primary on this machine. The primary must accept a replication connection from 127.0.0.1: when its
 * pg_hba.conf has no such line, one is added (`host replication all 127.0.0.1/32 trust`, the same trust as its
 * other loopback lines) and the configuration reloaded; a second run finds it there.
 */
export interface PgReplica {
  /** The replica's URL for a database of the primary (same user, same database name). */
  urlFor(primaryUrl: string): string;
  port: number;
  /** Stops replay (WAL still arrives, it is not applied): the replica's view stands still. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Waits until the replica has replayed everything the primary had written when called (bounded). */
  catchUp(): Promise<void>;
  /** Stops and removes the cluster. */
  drop(): Promise<void>;
}

/** Why a replica cannot be made here, or null when it can be tried. */
export async function replicaUnsupported(primaryUrl: string): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'making a PostgreSQL cluster needs root';
  for (const tool of [
    'pg_createcluster',
    'pg_ctlcluster',
    'pg_dropcluster',
    'pg_lsclusters',
    'pg_basebackup',
    'runuser',
  ])
    if (!onPath(tool)) return `${tool} is not installed (Debian's postgresql-common)`;
  const host = new URL(primaryUrl).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host))
    return `the primary (${host}) is not on this machine: a local replica cannot be made of it`;
  const settings = await primarySettings(primaryUrl);
  if (!['replica', 'logical'].includes(settings.wal_level))
    return `the primary's wal_level is ${settings.wal_level}; streaming needs replica (a restart to change)`;
  if (Number(settings.max_wal_senders) < 1) return "the primary's max_wal_senders is 0";
  if (!existsSync(settings.hba_file)) return `the primary's ${settings.hba_file} is not on this file system`;
  return null;
}

const CLUSTER_PREFIX = 'escrep_';
const HOT_STANDBY_MINIMUMS = [
  'max_connections',
  'max_worker_processes',
  'max_wal_senders',
  'max_prepared_transactions',
  'max_locks_per_transaction',
];

export async function startPgReplica(primaryUrl: string): Promise<PgReplica> {
  const reason = await replicaUnsupported(primaryUrl);
  if (reason) throw new Error(`cannot make a PostgreSQL replica: ${reason}`);
  const settings = await primarySettings(primaryUrl);
  const version = settings.server_version_num.slice(0, -4);
  const primary = new URL(primaryUrl);
  const primaryPort = primary.port || '5432';
  await allowReplication(primaryUrl, settings.hba_file);
  await dropStaleClusters(version);

  const name = `${CLUSTER_PREFIX}${process.pid}_${Math.random().toString(16).slice(2, 8)}`;
  const port = await freePort();
  const dataDir = `/var/lib/postgresql/${version}/${name}`;
  // An immediate stop: the replica's data is thrown away, so it needs no shutdown checkpoint.
  const dropCluster = async () => {
    await run('pg_ctlcluster', [version, name, 'stop', '-m', 'immediate']).catch(() => undefined);
    await run('pg_dropcluster', [version, name]).catch(() => rmSync(dataDir, { recursive: true, force: true }));
  };
  try {
    await run('install', ['-d', '-m', '700', '-o', 'postgres', '-g', 'postgres', dataDir]);
    // As the postgres user, so the files are the server's and the written primary_conninfo names no root files.
    // Nothing of it needs to survive a crash of this machine: no fsync, here or in the server (which also spares
    // the start its pass syncing the whole copied directory).
    await run('runuser', [
      '-u',
      'postgres',
      '--',
      'pg_basebackup',
      '-h',
      '127.0.0.1',
      '-p',
      primaryPort,
      '-U',
      primary.username || 'postgres',
      '-D',
      dataDir,
      '-R',
      '-X',
      'stream',
      '--checkpoint=fast',
      '--no-sync',
    ]);
    // A hot standby refuses to start with fewer of these than the primary has.
    const minimums = HOT_STANDBY_MINIMUMS.map((k) => `${k} = ${settings[k]}`).join('\n');
    const files: Record<string, string> = {
      'postgresql.conf': `listen_addresses = '127.0.0.1'\nport = ${port}\nfsync = off\nshared_buffers = 32MB\n${minimums}\n`,
      'pg_hba.conf': 'local all all trust\nhost all all 127.0.0.1/32 trust\n',
      'pg_ident.conf': '',
    };
    for (const [file, text] of Object.entries(files)) writeFileSync(`${dataDir}/${file}`, text);
    await run('chown', ['postgres:postgres', ...Object.keys(files).map((f) => `${dataDir}/${f}`)]);
    // pg_createcluster over a data directory that holds a cluster adopts it (no initdb): it moves these
    // configuration files to /etc/postgresql, where pg_ctlcluster and pg_dropcluster find them.
    await run('pg_createcluster', [version, name, '-p', String(port), '-d', dataDir]);
    await run('pg_ctlcluster', [version, name, 'start']);
  } catch (err) {
    await dropCluster();
    throw err;
  }

  const urlFor = (url: string) => {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  };
  const replicaAdmin = urlFor(primaryUrl);
  const onReplica = (text: string) => query(replicaAdmin, text);
  return {
    port,
    urlFor,
    pause: async () => {
      await onReplica('select pg_wal_replay_pause()');
      // The pause is requested; replay stops at its next record boundary.
      await until(
        async () => (await onReplica(`select pg_get_wal_replay_pause_state() as s`))[0].s === 'paused',
        'replay to pause',
      );
    },
    resume: async () => {
      await onReplica('select pg_wal_replay_resume()');
    },
    catchUp: async () => {
      const [{ lsn }] = await query(primaryUrl, 'select pg_current_wal_insert_lsn()::text as lsn');
      await until(
        async () => (await onReplica(`select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn as ok`))[0].ok === true,
        `the replica to replay up to ${lsn}`,
      );
    },
    drop: dropCluster,
  };
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(`${dir}/${tool}`));
}

async function query(url: string, text: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function primarySettings(url: string): Promise<Record<string, string>> {
  const names = ['wal_level', 'max_wal_senders', 'hba_file', 'server_version_num', ...HOT_STANDBY_MINIMUMS];
  const rows = await query(
    url,
    `select name, setting from pg_settings where name in (${names.map((n) => `'${n}'`).join(', ')})`,
  );
  return Object.fromEntries(rows.map((r) => [String(r.name), String(r.setting)]));
}

/** Adds the replication line to the primary's pg_hba.conf unless it is there, then reloads the configuration. */
async function allowReplication(primaryUrl: string, hbaFile: string): Promise<void> {
  const line = 'host replication all 127.0.0.1/32 trust';
  const present = readFileSync(hbaFile, 'utf8')
    .split('\n')
    .some((l) => l.trim().split(/\s+/).join(' ') === line);
  if (present) return;
  appendFileSync(hbaFile, `\n# Streaming replicas on this machine (Escalatr's read-replica test and bench)\n${line}\n`);
  await query(primaryUrl, 'select pg_reload_conf()');
}

/** Clusters an earlier run left behind when it was killed before dropping its own (its pid is gone). */
async function dropStaleClusters(version: string): Promise<void> {
  const { stdout } = await run('pg_lsclusters', ['-h']);
  for (const row of stdout.split('\n')) {
    const [ver, cluster] = row.trim().split(/\s+/);
    const m = new RegExp(`^${CLUSTER_PREFIX}(\\d+)_`).exec(cluster ?? '');
    if (ver !== version || !m || alive(Number(m[1]))) continue;
    await run('pg_ctlcluster', [ver, cluster, 'stop', '-m', 'immediate']).catch(() => undefined);
    await run('pg_dropcluster', [ver, cluster]).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls a condition of the servers (replay paused, a position replayed), bounded so a broken replica fails. */
async function until(ok: () => Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
