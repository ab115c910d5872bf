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

/** How much log output may wait for a slow reader before lines are dropped. */
const LOG_BUFFER_BYTES = 4 * 1024 * 1024;

type BufferedWritable = NodeJS.WritableStream & { readonly writableLength: number };

/**
 * Where the server's log lines go: a stream (stdout) written without ever waiting on its reader. pino's own
 * destination writes fd 1 synchronously and, on a pipe whose reader has stalled, retries forever on the main
 * thread: requests still answered from the socket buffer, but shutdown hung in that loop. Here the stream buffers
 * at most `capBytes`; beyond that whole lines are dropped and counted (escalatr_log_lines_dropped_total), and a
 * stream that failed (the reader went away) drops everything after. On a file or a terminal the stream writes at
 * once and nothing is ever held back.
 */
export class BoundedLogWriter {
  private droppedLines = 0;
  private broken = false;

  constructor(
    private readonly target: BufferedWritable = process.stdout,
    private readonly capBytes = LOG_BUFFER_BYTES,
  ) {
    // EPIPE and the like arrive as 'error' events: without a listener they would end the process.
    target.on('error', () => {
      this.broken = true;
    });
  }

  get dropped(): number {
    return this.droppedLines;
  }

  write(line: string): void {
    if (this.broken || this.target.writableLength + Buffer.byteLength(line) > this.capBytes) {
      this.droppedLines++;
      return;
    }
    this.target.write(line);
  }

  /** Resolves once the buffered lines are written, or after `timeoutMs` whatever the reader does. */
  drain(timeoutMs: number): Promise<void> {
    if (this.broken || this.target.writableLength === 0) return Promise.resolve();
    return new Promise((done) => {
      const timer = setTimeout(finish, timeoutMs);
      timer.unref();
      function finish() {
        clearTimeout(timer);
        done();
      }
      this.target.once('drain', finish);
      this.target.once('error', finish);
    });
  }
}

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
