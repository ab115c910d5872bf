import { readFileSync, writeFileSync, mkdirSync, existsSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';

/** Everything the process reads from its environment, checked once at start and then frozen. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | null;
  /**
   * A PostgreSQL streaming standby of DATABASE_URL that answers the API's reads (complaint list and detail, the event
   * feed, deliveries); writes and background work stay on the primary. Ignored on SQLite.
   */
  databaseReadUrl: string | null;
  /** A read replica further behind the primary than this serves no reads until it catches up, in ms; 0: no bound. */
  readReplicaMaxLagMs: number;
  masterKey: Buffer;
  retryScheduleMs: readonly number[];
  allowHttpWebhooks: boolean;
  webhookAllowCidrs: readonly string[];
  smtpUrl: string | null;
  logLevel: string;
  publicUrl: string;
  workerConcurrency: number;
  perEndpointConcurrency: number;
  /** Delivery attempts in flight for one company per worker process: its share while other companies wait. */
  companyConcurrency: number;
  /** How long a worker's claim on a delivery lasts; a crashed worker's deliveries are retried after this. */
  leaseMs: number;
  /** Requests per minute per API key (per client IP without one) on /api/v1; 0 turns the limit off. */
  rateLimitPerMin: number;
  /** When set, /metrics answers only requests with `Authorization: Bearer <token>`. */
  metricsToken: string | null;
  /**
   * The operator's API token: when set, the operator routes (`/api/operator/v1`, e.g. a consumer's erasure) answer
   * `Authorization: Bearer <token>`; unset, they answer 404 as if absent. No company credential reaches them.
   */
  operatorToken: string | null;
  /** When set, /metrics (with /healthz and /readyz) is served on this address instead of the API's. */
  metricsListen: ListenAddress | null;
  /** Requests per minute per client address without valid credentials (sign-ins, failed authentication); 0 = off. */
  anonRateLimitPerMin: number;
  /** Open HTTP connections at most; more are closed as they arrive. */
  maxConnections: number;
  /** Worker threads that score Shield feedback, so scoring never runs on the event loop that answers requests. */
  shieldThreads: number;
  /** Records of one company being scored at once by this process; the rest of its backlog waits its turn. */
  shieldCompanyInFlight: number;
  companyLimits: CompanyLimits;
  /** How often the retention step runs, in ms. */
  retentionIntervalMs: number;
  /** Rows one retention write transaction removes at most, so the API never waits long behind it. */
  retentionBatchRows: number;
  /** PostgreSQL: how often the queue's tables are looked at, and the dead row versions that get one vacuumed. */
  queueVacuumIntervalMs: number;
  queueVacuumDeadRows: number;
  /** How far past what the last full collection kept the JS heap may grow before the next one, in %; 0: V8's own. */
  heapGrowthPercent: number;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** Per-company limits on expensive work; 0 turns a rate off. */
export interface CompanyLimits {
  /** Feedback records stored per company per rolling minute (0: no limit). */
  feedbackPerMin: number;
  /** Resend and recover requests per company per rolling minute (0: no limit). */
  resendsPerMin: number;
  /** Webhook endpoints a company may have. */
  endpoints: number;
  /** Deliveries one bulk recover may requeue. */
  recoverDeliveries: number;
  /** Shield automations a company may have. */
  automations: number;
  /** API keys a company may have that are not revoked: each key has its own rate limit. */
  apiKeys: number;
  /** API requests per company per minute over all its keys and dashboard sessions (0: no limit). */
  requestsPerMin: number;
  /** Milliseconds spent serving one company's API requests per minute, from arrival to answer (0: no limit). */
  servingMsPerMin: number;
  /** Request bodies of one company being received at once (0: no limit). */
  bodiesReceiving: number;
  /** Connections kept open for one company's next requests (0: no limit). */
  connections: number;
}

/** The largest feedback batch one request may carry: a per-minute limit below it could never be met. */
export const FEEDBACK_BATCH_MAX = 1000;

/**
 * One scoring thread leaves a core to the event loop on two cores; two at most, since a Shield batch rarely needs
 * more and every thread holds its own copy of the sentiment lexicons.
 */
export function defaultShieldThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.min(2, cores - 1));
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolVar(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new ConfigError(name, `must be true or false, got "${env[name]}"`);
}

function cidrList(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = (env[name] ?? '').trim();
  if (!raw) return [];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(item))
      throw new ConfigError(name, `"${item}" is not a CIDR such as 127.0.0.0/8`);
  }
  return items;
}

function urlVar(env: NodeJS.ProcessEnv, name: string, protocols: string[]): string | null {
  const raw = (env[name] ?? '').trim();
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(name, `must use ${protocols.join(' or ')}`);
  return raw;
}

/** "127.0.0.1:9464", "[::1]:9464" or ":9464" (every interface). */
function listenVar(env: NodeJS.ProcessEnv, name: string): ListenAddress | null {
  const raw = (env[name] ?? '').trim();
  if (!raw) return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(name, `must be host:port, such as 127.0.0.1:9464, got "${raw}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function tokenVar(env: NodeJS.ProcessEnv, name: string): string | null {
  const raw = (env[name] ?? '').trim();
  if (!raw) return null;
  // A bearer token a scraper can guess protects nothing.
  if (raw.length < 16 || !/^[\x21-\x7e]+$/.test(raw))
    throw new ConfigError(name, 'must be at least 16 printable characters without spaces');
  return raw;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "1m,5m,30m,2h,6h" (units ms, s, m, h, d) into delays in milliseconds. */
/** The published schedule: the delays before each retry of a failed delivery. */
export const DEFAULT_RETRY_SCHEDULE = '1m,5m,30m,2h,6h';

function parseRetrySchedule(text: string): number[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error('must list at least one delay, e.g. 1m,5m,30m,2h,6h');
  if (parts.length > 20) throw new Error('may list at most 20 delays');
  return parts.map((part) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(part);
    if (!m) throw new Error(`"${part}" is not a delay such as 30s, 5m or 2h`);
    return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
  });
}

/**
 * The master key as configured, without making one: ESCALATR_MASTER_KEY (base64 or hex of 32 bytes), else the 0600
 * key file in the data dir, else null. `restore` checks a backup against it before anything exists to make one.
 */
export function configuredMasterKey(env: NodeJS.ProcessEnv, dataDir: string): Buffer | null {
  const raw = (env.ESCALATR_MASTER_KEY ?? '').trim();
  if (raw) {
    const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
    if (key.length !== 32)
      throw new ConfigError('ESCALATR_MASTER_KEY', 'must be 32 bytes, as 64 hex characters or base64');
    return key;
  }
  const file = join(dataDir, 'master.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32)
      throw new ConfigError('ESCALATR_MASTER_KEY', `key file ${file} does not hold 32 base64 bytes`);
    return key;
  }
  return null;
}

/** The master key as configured, or a new one written to the 0600 key file in the data dir on first run. */
function loadMasterKey(env: NodeJS.ProcessEnv, dataDir: string): Buffer {
  const configured = configuredMasterKey(env, dataDir);
  if (configured) return configured;
  const file = join(dataDir, 'master.key');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process started at the same moment and wrote the key first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadMasterKey(env, dataDir);
    throw err;
  }
  chmodSync(file, 0o600);
  return key;
}

function loadCompanyLimits(env: NodeJS.ProcessEnv): CompanyLimits {
  const feedbackPerMin = intVar(env, 'ESCALATR_FEEDBACK_PER_MIN', 6_000, 0, 10_000_000);
  if (feedbackPerMin !== 0 && feedbackPerMin < FEEDBACK_BATCH_MAX)
    throw new ConfigError(
      'ESCALATR_FEEDBACK_PER_MIN',
      `must be 0 (no limit) or at least ${FEEDBACK_BATCH_MAX}, the largest batch, got ${feedbackPerMin}`,
    );
  return {
    feedbackPerMin,
    resendsPerMin: intVar(env, 'ESCALATR_RESENDS_PER_MIN', 60, 0, 10_000),
    endpoints: intVar(env, 'ESCALATR_MAX_ENDPOINTS', 50, 1, 10_000),
    recoverDeliveries: intVar(env, 'ESCALATR_RECOVER_MAX_DELIVERIES', 10_000, 1, 1_000_000),
    automations: intVar(env, 'ESCALATR_MAX_AUTOMATIONS', 100, 1, 10_000),
    apiKeys: intVar(env, 'ESCALATR_MAX_API_KEYS', 50, 1, 10_000),
    requestsPerMin: intVar(env, 'ESCALATR_COMPANY_RATE_LIMIT_PER_MIN', 3_000, 0, 10_000_000),
    servingMsPerMin: intVar(env, 'ESCALATR_COMPANY_SERVING_MS_PER_MIN', 20_000, 0, 3_600_000),
    bodiesReceiving: intVar(env, 'ESCALATR_COMPANY_BODIES_RECEIVING', 64, 0, 100_000),
    connections: intVar(env, 'ESCALATR_COMPANY_CONNECTIONS', 256, 0, 1_000_000),
  };
}

/** DATA_DIR as an absolute path (default ./data). */
export const dataDirOf = (env: NodeJS.ProcessEnv): string => resolve((env.DATA_DIR ?? '').trim() || './data');

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = intVar(env, 'PORT', 3000, 0, 65535);
  const host = (env.HOST ?? '').trim() || '0.0.0.0';
  const dataDir = dataDirOf(env);
  const databaseUrl = urlVar(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  let retryScheduleMs: number[];
  try {
    retryScheduleMs = parseRetrySchedule(env.ESCALATR_RETRY_SCHEDULE ?? DEFAULT_RETRY_SCHEDULE);
  } catch (err) {
    throw new ConfigError('ESCALATR_RETRY_SCHEDULE', (err as Error).message);
  }
  const logLevel = (env.LOG_LEVEL ?? '').trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  const publicUrl = urlVar(env, 'PUBLIC_URL', ['http:', 'https:']) ?? `http://localhost:${port}`;
  const workerConcurrency = intVar(env, 'ESCALATR_WORKER_CONCURRENCY', 64, 1, 1024);
  return Object.freeze({
    port,
    host,
    dataDir,
    databaseUrl,
    databaseReadUrl: urlVar(env, 'DATABASE_READ_URL', ['postgres:', 'postgresql:']),
    readReplicaMaxLagMs: intVar(env, 'ESCALATR_READ_MAX_LAG_S', 10, 0, 86_400) * 1000,
    masterKey: loadMasterKey(env, dataDir),
    retryScheduleMs: Object.freeze(retryScheduleMs),
    allowHttpWebhooks: boolVar(env, 'ESCALATR_ALLOW_HTTP_WEBHOOKS'),
    webhookAllowCidrs: Object.freeze(cidrList(env, 'ESCALATR_WEBHOOK_ALLOW_CIDRS')),
    smtpUrl: urlVar(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    logLevel,
    publicUrl: publicUrl.replace(/\/$/, ''),
    workerConcurrency,
    perEndpointConcurrency: intVar(env, 'ESCALATR_ENDPOINT_CONCURRENCY', 8, 1, 256),
    // Half the worker's slots by default: a company with a backlog or hanging receivers leaves the other half free.
    companyConcurrency: intVar(
      env,
      'ESCALATR_COMPANY_CONCURRENCY',
      Math.max(1, Math.ceil(workerConcurrency / 2)),
      1,
      1024,
    ),
    // Longer than the longest attempt (30 s timeout), so a live attempt never loses its claim.
    leaseMs: intVar(env, 'ESCALATR_LEASE_MS', 45_000, 5_000, 3_600_000),
    rateLimitPerMin: intVar(env, 'ESCALATR_RATE_LIMIT_PER_MIN', 600, 0, 1_000_000),
    metricsToken: tokenVar(env, 'METRICS_TOKEN'),
    operatorToken: tokenVar(env, 'ESCALATR_OPERATOR_TOKEN'),
    metricsListen: listenVar(env, 'METRICS_LISTEN'),
    anonRateLimitPerMin: intVar(env, 'ESCALATR_ANON_RATE_LIMIT_PER_MIN', 120, 0, 1_000_000),
    // Below the usual open-file limits, so idle connections alone cannot leave the store without a file to open.
    maxConnections: intVar(env, 'ESCALATR_MAX_CONNECTIONS', 4_000, 10, 1_000_000),
    shieldThreads: intVar(env, 'ESCALATR_SHIELD_THREADS', defaultShieldThreads(), 1, 64),
    shieldCompanyInFlight: intVar(env, 'ESCALATR_SHIELD_COMPANY_IN_FLIGHT', 100, 1, 100_000),
    companyLimits: Object.freeze(loadCompanyLimits(env)),
    retentionIntervalMs: intVar(env, 'ESCALATR_RETENTION_INTERVAL_S', 300, 10, 86_400) * 1000,
    retentionBatchRows: intVar(env, 'ESCALATR_RETENTION_BATCH_ROWS', 500, 10, 10_000),
    queueVacuumIntervalMs: intVar(env, 'ESCALATR_QUEUE_VACUUM_INTERVAL_S', 2, 1, 3600) * 1000,
    queueVacuumDeadRows: intVar(env, 'ESCALATR_QUEUE_VACUUM_DEAD_ROWS', 20_000, 0, 100_000_000),
    heapGrowthPercent: intVar(env, 'ESCALATR_HEAP_GROWTH_PERCENT', 100, 0, 1000),
  });
}
