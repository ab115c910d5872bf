/**
 * The messages of a listener's connection (`escalatr listen` ↔ the server), as JSON text frames. The server sends
 * `ready` once the development endpoint is held, then a `delivery` for each attempt to make; the listener answers each
 * with a `result`, which is recorded as the attempt. A delivery without a recorded result stays in the queue and is
 * sent again on the next connection (at-least-once).
 */

interface ListenerReady {
  type: 'ready';
  endpoint_id: string;
  /** The endpoint's signing secret: what the local receiver verifies with. */
  secret: string;
  events: string[];
}

export interface ListenerDelivery {
  type: 'delivery';
  delivery_id: string;
  event_id: string;
  event: string;
  /** The attempt's number (1 for the first). */
  attempt: number;
  /** Exactly the headers and body an HTTP delivery of this attempt carries, signatures included. */
  headers: Record<string, string>;
  body: string;
  timeout_ms: number;
}

export type ListenerServerMessage = ListenerReady | ListenerDelivery;

/** Why a forward failed without a response, as the listener saw it. */
export const LISTENER_ERROR_KINDS = ['timeout', 'connection_refused', 'connection_reset', 'other'] as const;
export type ListenerErrorKind = (typeof LISTENER_ERROR_KINDS)[number];

export interface ListenerResult {
  type: 'result';
  delivery_id: string;
  /** The local receiver's status, or null when it gave none (error_kind says why). */
  status_code: number | null;
  error_kind: ListenerErrorKind | null;
  duration_ms: number;
  /** The start of the response body. */
  response_excerpt: string | null;
}
