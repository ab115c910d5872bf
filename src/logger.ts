import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Field names whose values are credentials. pino's redaction works on paths, so each name is listed at the top
 * level and up to three levels down (`{ err: { config: { headers: { authorization } } } }`), in the spellings
 * it appears with: Node lower-cases incoming header names, but the headers we build for a delivery are
 * capitalised (`Authorization`). A credential under a name of the user's choosing (a custom auth header) cannot be
 * caught by name, which is why no code logs request or delivery headers at all.
 */
const SECRET_FIELDS = [
  'authorization',
  'Authorization',
  'x-api-key',
  'X-API-Key',
  'X-Api-Key',
  'cookie',
  'Cookie',
  'set-cookie',
  'Set-Cookie',
  'x-csrf-token',
  'csrf_token',
  'csrfToken',
  'x-escalatr-signature',
  'X-Escalatr-Signature',
  'webhook-signature',
  'secret',
  'secrets',
  'prev_secret',
  'token',
  'password',
  'password_hash',
  'api_key',
  'key',
  'master_key',
  'masterKey',
  'credential',
  'credentials',
  'smtpUrl',
  'smtp_url',
  'databaseUrl',
  'database_url',
  'connectionString',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const field of SECRET_FIELDS) {
    // Bracket notation: names such as x-api-key are not valid identifiers.
    const f = `["${field}"]`;
    paths.push(f, `*${f}`, `*.*${f}`, `*.*.*${f}`);
  }
  return paths;
}

export const REDACTED = '[redacted]';

export interface LoggerOptions {
  level: string;
  /** Where the JSON lines go; stdout when absent. CLI commands log to stderr so their stdout stays machine-readable. */
  destination?: DestinationStream | NodeJS.WritableStream;
  name?: string;
}

/** The process logger: structured JSON lines, credentials replaced by "[redacted]" wherever they appear by name. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: opts.name ?? 'escalatr',
      level: opts.level,
      redact: { paths: redactPaths(), censor: REDACTED },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination as DestinationStream | undefined,
  );
}
