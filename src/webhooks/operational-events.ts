import { iso, isoOrNull } from '../clock.js';
import type { DomainContext, Work } from '../domain/context.js';
import { isOperationalEvent, type OperationalEventName } from '../domain/event-catalog.js';
import { emitEvent } from '../domain/events.js';
import { newId } from '../ids.js';
import type { AttemptResult, NextState } from '../queue/attempt.js';
import type { Tx } from '../storage/db.js';
import { FAILING_DISABLE_AFTER_MS, type DisableReason } from './endpoints.js';

/**
 * Operational events: what the company is told about its own webhook delivery. Each is written in the transaction
 * that changed the state it reports (the worker's result transaction), into the company's event feed, to the
 * endpoints that name it (never the endpoint it is about) and to the company's operations destinations (email to
 * owners and admins, a Slack incoming webhook), which the worker sends and retries like any delivery.
 */

const DAY_MS = 24 * 3600 * 1000;
/** A failing streak this long is announced once… */
const FAILING_NOTICE_AFTER_MS = DAY_MS;
/** …and again this long before the automatic disable would take the endpoint off. */
const DISABLING_NOTICE_BEFORE_MS = DAY_MS;

/** The last notice an endpoint caused (endpoints.ops_notice); its first success afterwards is announced. */
type OpsNotice = 'failing' | 'disabling' | 'disabled';

/**
 * Which failing notice a still-enabled endpoint is due now, if any: 'failing' after a day of failures, 'disabling'
 * a day before the 5-day disable. A streak first seen late enough skips straight to 'disabling'; each is sent once.
 */
export function failingNoticeDue(
  failingSince: number,
  last: string | null,
  now: number,
): 'failing' | 'disabling' | null {
  const streak = now - failingSince;
  if (last === 'disabling' || last === 'disabled') return null;
  if (streak >= FAILING_DISABLE_AFTER_MS - DISABLING_NOTICE_BEFORE_MS) return 'disabling';
  if (streak >= FAILING_NOTICE_AFTER_MS && last === null) return 'failing';
  return null;
}

/** The target names of the operations destinations' deliveries (their senders live with the other alert channels). */
export const OPS_TARGETS = { email: 'ops_email', slack: 'ops_slack' } as const;

async function operationsDeliveries(tx: Tx, companyId: string) {
  const row = await tx
    .selectFrom('company_operations')
    .select(['email', 'slack_url_enc'])
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  const extra: Array<{ destinationId: string; target: 'ops_email' | 'ops_slack'; idempotencyKey: string }> = [];
  if (!row) return extra;
  // The destination is the company's operations setting itself, read again when the alert is sent.
  if (row.email === 1)
    extra.push({ destinationId: companyId, target: OPS_TARGETS.email, idempotencyKey: newId('ops') });
  if (row.slack_url_enc !== null)
    extra.push({ destinationId: companyId, target: OPS_TARGETS.slack, idempotencyKey: newId('ops') });
  return extra;
}

async function emitOperational(
  ctx: DomainContext,
  work: Work,
  companyId: string,
  name: OperationalEventName,
  data: Record<string, unknown>,
  aboutEndpointId: string | null,
): Promise<void> {
  await emitEvent(ctx, work, {
    companyId,
    name,
    data,
    excludeEndpointId: aboutEndpointId ?? undefined,
    extraDeliveries: await operationsDeliveries(work.tx, companyId),
  });
}

interface EndpointFacts {
  id: string;
  company_id: string;
  url: string;
  description: string | null;
  failing_since: number | null;
}

const endpointData = (e: EndpointFacts) => ({ endpoint_id: e.id, url: e.url, description: e.description });

/**
 * After a failed batch for one endpoint: announces its automatic disable, or the failing notice it is due. Returns
 * whether an event was written.
 */
export async function announceFailure(
  ctx: DomainContext,
  work: Work,
  endpointId: string,
  disabled: Exclude<DisableReason, 'manual'> | null,
): Promise<boolean> {
  const e = await work.tx
    .selectFrom('endpoints')
    .select(['id', 'company_id', 'url', 'description', 'failing_since', 'enabled', 'ops_notice', 'disabled_at'])
    .where('id', '=', endpointId)
    .executeTakeFirst();
  if (!e) return false;
  let notice: OpsNotice | null = null;
  if (disabled) {
    notice = 'disabled';
    await emitOperational(
      ctx,
      work,
      e.company_id,
      'endpoint.disabled',
      {
        ...endpointData(e),
        reason: disabled,
        failing_since: isoOrNull(e.failing_since),
        disabled_at: isoOrNull(e.disabled_at),
      },
      e.id,
    );
  } else if (e.enabled === 1 && e.failing_since !== null) {
    // Re-enabled after an automatic disable: a new streak is announced afresh.
    notice = failingNoticeDue(e.failing_since, e.ops_notice === 'disabled' ? null : e.ops_notice, work.now);
    if (notice)
      await emitOperational(
        ctx,
        work,
        e.company_id,
        'endpoint.failing',
        {
          ...endpointData(e),
          failing_since: iso(e.failing_since),
          disables_at: iso(e.failing_since + FAILING_DISABLE_AFTER_MS),
          final_notice: notice === 'disabling',
        },
        e.id,
      );
  }
  if (!notice) return false;
  await work.tx.updateTable('endpoints').set({ ops_notice: notice }).where('id', '=', e.id).execute();
  return true;
}

/**
 * After successes: every endpoint among them that had been reported failing or disabled is announced as recovered
 * and its notice cleared. One statement when none was.
 */
export async function announceRecoveries(ctx: DomainContext, work: Work, endpointIds: readonly string[]) {
  if (endpointIds.length === 0) return 0;
  const noticed = await work.tx
    .selectFrom('endpoints')
    .select(['id', 'company_id', 'url', 'description', 'failing_since', 'ops_notice'])
    .where('id', 'in', [...endpointIds])
    .where('ops_notice', 'is not', null)
    .execute();
  for (const e of noticed) {
    await work.tx.updateTable('endpoints').set({ ops_notice: null }).where('id', '=', e.id).execute();
    await emitOperational(
      ctx,
      work,
      e.company_id,
      'endpoint.recovered',
      { ...endpointData(e), previous_notice: e.ops_notice, recovered_at: iso(work.now) },
      e.id,
    );
  }
  return noticed.length;
}

/**
 * Deliveries that used up their retries in this batch (an attempt was made; a skipped delivery, whose target was
 * removed or turned off, is not one) become `delivery.dead` events. A dead delivery of an operational event makes
 * none, so one failing receiver subscribed to these cannot feed itself.
 */
export async function announceDeadDeliveries(
  ctx: DomainContext,
  work: Work,
  applied: ReadonlyArray<{ result: AttemptResult; state: NextState }>,
): Promise<number> {
  const dead = applied.filter((a) => a.state.status === 'dead' && a.result.outcome).map((a) => a.result);
  if (dead.length === 0) return 0;
  const events = await work.tx
    .selectFrom('events')
    .select(['id', 'name'])
    .where('id', 'in', [...new Set(dead.map((r) => r.delivery.event_id))])
    .execute();
  const nameOf = new Map(events.map((e) => [e.id, e.name]));
  let written = 0;
  for (const r of dead) {
    const d = r.delivery;
    const name = nameOf.get(d.event_id);
    if (!name || isOperationalEvent(name)) continue;
    await emitOperational(
      ctx,
      work,
      d.company_id,
      'delivery.dead',
      {
        delivery_id: d.id,
        event_id: d.event_id,
        event: name,
        target: d.target,
        endpoint_id: d.endpoint_id,
        destination_id: d.destination_id,
        attempt_count: d.attempt_count + 1,
        last_status_code: r.outcome?.statusCode ?? null,
        last_error: r.outcome?.errorMessage ?? null,
      },
      d.endpoint_id,
    );
    written++;
  }
  return written;
}
