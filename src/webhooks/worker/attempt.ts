import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { DomainContext } from '../../domain/context.js';
import type { AttemptOutcome, AttemptResult } from '../../queue/attempt.js';
import type { ClaimedDelivery } from '../../queue/delivery.js';
import { sendWebhook } from '../http-sender.js';
import type { BrokerSenders } from '../brokers/broker-sender.js';
import type { PreparedBatch, TargetRegistry } from '../targets.js';
import { holdNote } from '../endpoint-pacing.js';

/** A claimed delivery as the worker holds it: with what its target read for the whole claimed batch. */
export interface HeldDelivery extends ClaimedDelivery {
  prepared?: PreparedBatch;
  /** While tracing is on: the trace context stored with its event (attempt-trace.ts). */
  traceparent?: string | null;
}

export interface AttemptDeps {
  ctx: DomainContext;
  targets: TargetRegistry;
  /** The SSRF-guarded undici dispatcher every HTTP attempt goes through. */
  dispatcher: Dispatcher;
  /** The broker connections every broker attempt goes through (guarded like the dispatcher); none: such attempts fail. */
  brokers?: BrokerSenders;
  log?: Logger;
}

const PREPARE_FAILED: AttemptOutcome = {
  ok: false,
  statusCode: null,
  durationMs: 0,
  errorKind: 'other',
  errorMessage: 'could not prepare the request',
  responseExcerpt: null,
  retryAfterMs: null,
  gone: false,
};

const NO_BROKERS: AttemptOutcome = { ...PREPARE_FAILED, detail: 'this worker has no broker connections' };

/**
 * Makes one attempt of a claimed delivery: its target plans the request (or skips it: the receiver is gone or off),
 * then it is sent. Throws only on a fault of our own; the lease then runs out and another claim retries the row.
 */
export async function attemptDelivery(deps: AttemptDeps, item: HeldDelivery, owner: string): Promise<AttemptResult> {
  const { ctx } = deps;
  const startedAt = ctx.clock.now();
  const done = (outcome: AttemptOutcome | null, skipReason?: string): AttemptResult => ({
    delivery: item.delivery,
    startedAt,
    finishedAt: ctx.clock.now(),
    outcome,
    ...(skipReason === undefined ? {} : { skipReason }),
    owner,
  });
  const target = deps.targets[item.delivery.target];
  if (!target) return done(null, `no target for ${item.delivery.target}`);
  let plan;
  try {
    plan = await target.plan(ctx, item.delivery, item.event, startedAt, item.prepared);
  } catch (err) {
    deps.log?.error({ err, delivery_id: item.delivery.id }, 'could not prepare delivery');
    return done(PREPARE_FAILED);
  }
  if (plan.kind === 'skip') return done(null, plan.reason);
  const sent =
    plan.kind === 'custom'
      ? await plan.send()
      : plan.kind === 'broker'
        ? await (deps.brokers ? deps.brokers.send(plan) : NO_BROKERS)
        : await sendWebhook({
            url: plan.url,
            headers: plan.headers,
            body: plan.body,
            timeoutMs: plan.timeoutMs,
            dispatcher: deps.dispatcher,
          });
  // A 429 with Retry-After holds the whole endpoint (endpoint-pacing.ts); its attempt says so.
  const outcome = item.delivery.endpoint_id ? holdNote(sent) : sent;
  // The tenant sees a fixed text per error kind; what actually went wrong is for the operator's log.
  if (outcome.detail)
    deps.log?.info(
      { delivery_id: item.delivery.id, error_kind: outcome.errorKind, detail: outcome.detail },
      'delivery attempt failed',
    );
  const { retryScheduleMs } = plan;
  return { ...done(outcome), ...(retryScheduleMs === undefined ? {} : { retryScheduleMs }) };
}

/** Lets each target read what a claimed batch needs in one query (DeliveryTarget.prepare). */
export async function prepareBatch(deps: AttemptDeps, items: readonly HeldDelivery[]): Promise<void> {
  const byTarget = new Map<string, HeldDelivery[]>();
  for (const item of items) {
    const list = byTarget.get(item.delivery.target);
    if (list) list.push(item);
    else byTarget.set(item.delivery.target, [item]);
  }
  await Promise.all(
    [...byTarget].map(async ([name, list]) => {
      const target = deps.targets[name];
      if (!target?.prepare) return;
      const prepared = await target.prepare(
        deps.ctx,
        list.map((i) => i.delivery),
      );
      for (const item of list) item.prepared = prepared;
    }),
  );
}
