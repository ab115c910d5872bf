import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

export type VerificationErrorCode =
  | 'missing_headers'
  | 'invalid_signature'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'replayed'
  | 'invalid_secret'
  | 'invalid_body'
  | 'invalid_options'
  | 'body_too_large';

export declare class WebhookVerificationError extends Error {
  readonly code: VerificationErrorCode;
  constructor(code: VerificationErrorCode, message: string);
}

/** Headers as Node.js, Fetch (`Headers`) or a plain object give them; names are matched case-insensitively. */
export type HeaderSource =
  IncomingHttpHeaders | Record<string, string | string[] | undefined> | { get(name: string): string | null };

export interface ReplayGuard {
  /** Records `key` and says whether it had been recorded before (within the tolerance window). */
  seen(key: string, timestampSec: number, nowMs: number): boolean;
  readonly size: number;
}

export interface VerifyOptions {
  /**
   * `auto` (default): Standard Webhooks when its headers are present, else `X-Escalatr-Signature`.
   * `standard`: Standard Webhooks only (timestamped). `escalatr`: the hex signature only (no timestamp).
   */
  scheme?: 'auto' | 'standard' | 'escalatr';
  /** How far `webhook-timestamp` may be from this clock, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Refuses a Standard Webhooks delivery verified before (see createReplayGuard). */
  replayGuard?: ReplayGuard;
  /** The clock, in milliseconds since the epoch (default Date.now). */
  now?: () => number;
}

export interface VerifiedWebhook<T = unknown> {
  scheme: 'standard' | 'escalatr';
  /** `webhook-id`: the event's id, the same on every retry. */
  id: string | null;
  /** `webhook-timestamp`, seconds. */
  timestamp: number | null;
  /** `X-Escalatr-Event`, e.g. `complaint.resolved`. */
  event: string | null;
  /** `Idempotency-Key`: the same on every attempt of one delivery. */
  idempotencyKey: string | null;
  payload: T;
}

/** The secret (`whsec_…`), or the list of secrets accepted during a rotation. */
export type Secret = string | readonly string[];

export declare function verifyWebhook<T = unknown>(
  rawBody: string | Buffer | Uint8Array,
  headers: HeaderSource,
  secret: Secret,
  options?: VerifyOptions,
): VerifiedWebhook<T>;

export declare function createReplayGuard(options?: { toleranceSeconds?: number; maxEntries?: number }): ReplayGuard;

export interface MiddlewareOptions extends VerifyOptions {
  secret: Secret;
  /** Largest body read, in bytes (default 1 MiB). */
  bodyLimit?: number;
}

export interface WebhookRequest extends IncomingMessage {
  body?: unknown;
  rawBody?: Buffer;
  webhook?: VerifiedWebhook;
}

export declare function expressWebhook(
  options: MiddlewareOptions,
): (req: WebhookRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

/** A Fastify plugin (register it in the scope of the webhook routes); typed loosely so Fastify stays optional. */
export declare function fastifyWebhook(fastify: unknown, options: MiddlewareOptions): Promise<void>;
