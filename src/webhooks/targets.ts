import type { DomainContext } from '../domain/context.js';
import type { AttemptOutcome } from '../queue/attempt.js';
import type { DeliveryRow, StoredEvent } from '../queue/delivery.js';

/** What every plan that makes an attempt may carry besides what it sends. */
interface AttemptPlanBase {
  /** The receiver's own delays between attempts (ms); absent: the server's schedule. */
  retryScheduleMs?: readonly number[];
}

/** What one attempt sends over HTTP; the worker signs nothing itself — the target prepared the headers. */
export interface HttpRequestPlan extends AttemptPlanBase {
  kind: 'http';
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/**
 * What one attempt publishes to a message broker (amqp(s)://, nats://, tls://, redis(s)://, mqtt(s):// endpoint
 * URLs): the same body and signature headers as HTTP, sent by the worker's pooled broker connections
 * (src/webhooks/brokers/).
 */
interface BrokerPublishPlan extends AttemptPlanBase {
  kind: 'broker';
  /** The stored URL, without its password. */
  url: string;
  password: string | null;
  headers: Record<string, string>;
  body: string;
  /** The event id: brokers that deduplicate see a retry as the same message. */
  messageId: string;
  timeoutMs: number;
}

/** A non-HTTP channel (email over SMTP): the target performs the send and reports the outcome. */
interface CustomSendPlan extends AttemptPlanBase {
  kind: 'custom';
  timeoutMs: number;
  send(): Promise<AttemptOutcome>;
}

/** The target no longer exists or is disabled: the delivery ends without an attempt. */
export interface SkipPlan {
  kind: 'skip';
  reason: string;
}

export type DeliveryPlan = HttpRequestPlan | BrokerPublishPlan | CustomSendPlan | SkipPlan;

/**
 * Turns a claimed delivery into what to send. One per `deliveries.target`: 'endpoint' (company webhooks,
 * src/webhooks/endpoint-target.ts) and 'webhook' | 'slack' | 'email' | 'broker' (Shield destinations, src/shield/destinations/).
 */
export interface DeliveryTarget {
  /**
   * Optional: reads what a whole claimed batch of this target's deliveries needs (their endpoints, say) in one query,
   * right after the claim. Its result is handed to `plan` for each of them; without it `plan` reads on its own.
   */
  prepare?(ctx: DomainContext, deliveries: readonly DeliveryRow[]): Promise<PreparedBatch>;
  plan(
    ctx: DomainContext,
    delivery: DeliveryRow,
    event: StoredEvent,
    now: number,
    prepared?: PreparedBatch,
  ): Promise<DeliveryPlan>;
}

/** What `prepare` read for a batch; only the target that made it looks inside. */
export type PreparedBatch = object;

export type TargetRegistry = Record<string, DeliveryTarget>;
