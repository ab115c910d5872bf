import type { DomainContext } from '../../domain/context.js';
import { newId } from '../../ids.js';
import { attemptErrorMessage, type AttemptOutcome, type AttemptResult } from '../../queue/attempt.js';
import { claimForEndpoint } from '../../queue/claim.js';
import type { ClaimedDelivery } from '../../queue/delivery.js';
import { record } from '../../queue/record.js';
import { release } from '../../queue/release.js';
import type { WakeSubscription } from '../../queue/wakeup.js';
import { endpointTarget } from '../endpoint-target.js';
import { RESPONSE_EXCERPT_BYTES } from '../http-sender.js';
import type { EndpointRow } from '../endpoints.js';
import { touchListenerEndpoint } from './listener-endpoints.js';
import {
  LISTENER_ERROR_KINDS,
  type ListenerErrorKind,
  type ListenerResult,
  type ListenerServerMessage,
} from './protocol.js';

/** Deliveries sent to the listener and not yet answered, at most: a slow local receiver holds back the rest. */
const MAX_OUTSTANDING = 10;
/** Longest sleep between claims: a safety net under the wake-ups (retries falling due, other processes' commits). */
const POLL_MS = 1000;
/** How often a connected listener marks its endpoint as held (it expires after an hour without). */
const TOUCH_MS = 5 * 60 * 1000;

/** What a session logs through (the server's request logger). */
export interface ListenerLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Where a session sends its messages: the listener's socket. */
export interface ListenerConnection {
  send(message: ListenerServerMessage): void;
}

interface Outstanding {
  item: ClaimedDelivery;
  startedAt: number;
  timeoutMs: number;
  retryScheduleMs?: readonly number[];
}

/**
 * One listener's connection, holding its development endpoint: claims the endpoint's due deliveries with a lease of
 * its own (the workers never claim them), sends each to the listener with the headers and body an HTTP attempt would
 * carry, and records each result the listener reports as the attempt, with the same retry schedule, dead state and
 * history as a worker's. When the connection ends, what was sent and not answered is given back to the queue, so the
 * next connection sends it again.
 */
export class ListenerSession {
  readonly owner = `listener:${newId('ls', 8)}`;
  private readonly outstanding = new Map<string, Outstanding>();
  private open = true;
  private loop: Promise<void> | null = null;
  private wakeup: WakeSubscription | null = null;
  private touchTimer: NodeJS.Timeout | null = null;
  private wakeSleep: (() => void) | null = null;
  private woken = false;

  constructor(
    private readonly ctx: DomainContext,
    private readonly endpoint: EndpointRow,
    private readonly connection: ListenerConnection,
    private readonly log?: ListenerLog,
  ) {}

  get endpointId(): string {
    return this.endpoint.id;
  }

  start(): void {
    this.wakeup = this.ctx.wakeups.subscribe('deliveries', () => this.wake());
    this.touchTimer = setInterval(() => {
      void touchListenerEndpoint(this.ctx, this.endpoint.id, this.ctx.clock.now()).catch(() => undefined);
    }, TOUCH_MS);
    this.touchTimer.unref();
    this.loop = this.run();
  }

  /** A frame from the listener. Anything but a well-formed result for a delivery it was sent is ignored. */
  async receive(text: string): Promise<void> {
    const result = parseResult(text);
    if (!result) return;
    const held = this.outstanding.get(result.delivery_id);
    if (!held) return;
    this.outstanding.delete(result.delivery_id);
    const attempt: AttemptResult = {
      delivery: held.item.delivery,
      startedAt: held.startedAt,
      finishedAt: this.ctx.clock.now(),
      outcome: outcomeOf(result, held.timeoutMs),
      owner: this.owner,
      ...(held.retryScheduleMs === undefined ? {} : { retryScheduleMs: held.retryScheduleMs }),
    };
    // Recorded only while this session's lease holds; otherwise another connection has the row now.
    await record(this.ctx.store, this.ctx.config.retryScheduleMs, [attempt]);
    this.wake();
  }

  /** The connection ended: stop claiming, give back what was not answered, mark the endpoint as last held now. */
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.wake();
    await this.loop;
    if (this.touchTimer) clearInterval(this.touchTimer);
    await this.wakeup?.close();
    const unanswered = [...this.outstanding.keys()];
    this.outstanding.clear();
    await release(this.ctx.store, unanswered, this.owner).catch((err: unknown) =>
      this.log?.warn({ err }, 'could not give back a listener’s deliveries; their leases will expire'),
    );
    await touchListenerEndpoint(this.ctx, this.endpoint.id, this.ctx.clock.now()).catch(() => undefined);
  }

  private wake(): void {
    this.woken = true;
    this.wakeSleep?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.open) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleep = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakeSleep = done;
    });
  }

  private async run(): Promise<void> {
    while (this.open) {
      this.woken = false;
      try {
        await this.claimAndSend();
      } catch (err) {
        this.log?.error({ err, endpoint_id: this.endpoint.id }, 'listener claim failed; retrying');
      }
      await this.sleep(POLL_MS);
    }
  }

  private async claimAndSend(): Promise<void> {
    const room = MAX_OUTSTANDING - this.outstanding.size;
    if (room <= 0) return;
    const claimed = await claimForEndpoint(this.ctx.store, {
      endpointId: this.endpoint.id,
      now: this.ctx.clock.now(),
      limit: room,
      // Longer than the listener may take to answer (its forward times out at the endpoint's timeout).
      leaseMs: this.endpoint.timeout_ms + 30_000,
      owner: this.owner,
    });
    for (const item of claimed) {
      if (!this.open) {
        await release(this.ctx.store, [item.delivery.id], this.owner);
        continue;
      }
      await this.dispatch(item);
    }
  }

  /** Plans the attempt as a worker would and sends it to the listener, or records it when nothing is to be sent. */
  private async dispatch(item: ClaimedDelivery): Promise<void> {
    const startedAt = this.ctx.clock.now();
    const plan = await endpointTarget.plan(this.ctx, item.delivery, item.event, startedAt);
    const settle = (outcome: AttemptOutcome | null, skipReason?: string) =>
      record(this.ctx.store, this.ctx.config.retryScheduleMs, [
        {
          delivery: item.delivery,
          startedAt,
          finishedAt: this.ctx.clock.now(),
          outcome,
          owner: this.owner,
          ...(skipReason === undefined ? {} : { skipReason }),
          ...(plan.kind !== 'skip' && plan.retryScheduleMs ? { retryScheduleMs: plan.retryScheduleMs } : {}),
        },
      ]);
    if (plan.kind === 'skip') return void (await settle(null, plan.reason));
    if (plan.kind === 'custom') return void (await settle(await plan.send()));
    if (plan.kind !== 'http') return void (await settle(null, 'a development endpoint forwards over HTTP only'));
    this.outstanding.set(item.delivery.id, {
      item,
      startedAt,
      timeoutMs: plan.timeoutMs,
      ...(plan.retryScheduleMs ? { retryScheduleMs: plan.retryScheduleMs } : {}),
    });
    this.connection.send({
      type: 'delivery',
      delivery_id: item.delivery.id,
      event_id: item.event.id,
      event: item.event.name,
      attempt: item.delivery.attempt_count + 1,
      headers: plan.headers,
      body: plan.body,
      timeout_ms: plan.timeoutMs,
    });
  }
}

function parseResult(text: string): ListenerResult | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Partial<ListenerResult>;
  if (r.type !== 'result' || typeof r.delivery_id !== 'string') return null;
  const status =
    Number.isInteger(r.status_code) && r.status_code! >= 100 && r.status_code! <= 599 ? r.status_code! : null;
  const kind = LISTENER_ERROR_KINDS.includes(r.error_kind as ListenerErrorKind) ? r.error_kind! : null;
  return {
    type: 'result',
    delivery_id: r.delivery_id,
    status_code: status,
    error_kind: status === null ? (kind ?? 'other') : null,
    duration_ms: Number.isFinite(r.duration_ms) && r.duration_ms! >= 0 ? Math.round(r.duration_ms!) : 0,
    response_excerpt:
      typeof r.response_excerpt === 'string' ? r.response_excerpt.slice(0, RESPONSE_EXCERPT_BYTES) : null,
  };
}

/** The listener's report as an attempt's outcome: a 2xx is a success, anything else a failure retried on schedule. */
function outcomeOf(result: ListenerResult, timeoutMs: number): AttemptOutcome {
  const status = result.status_code;
  const ok = status !== null && status >= 200 && status < 300;
  const errorKind = ok ? null : status !== null ? 'http_status' : (result.error_kind ?? 'other');
  return {
    ok,
    statusCode: status,
    durationMs: result.duration_ms,
    errorKind,
    errorMessage: errorKind === null ? null : attemptErrorMessage(errorKind, { statusCode: status, timeoutMs }),
    responseExcerpt: result.response_excerpt,
    retryAfterMs: null,
    // A development endpoint is not disabled by its local receiver's answers.
    gone: false,
  };
}
