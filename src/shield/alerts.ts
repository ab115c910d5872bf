import { sql } from 'kysely';
import { iso } from '../clock.js';
import type { DomainContext, Work } from '../domain/context.js';
import { emitEvent } from '../domain/events.js';
import type { ActiveAutomation } from './automations.js';
import type { Level } from './levels.js';
import type { Sensitivity, Signal } from './scoring/model.js';

export const EXCERPT_MAX = 500;

/** The Shield alert payload: what every destination and the event feed carry as `data`. */
export interface ShieldAlertPayload {
  automation_id: string;
  org_id: string;
  escalated_at: string;
  levels: {
    escalation_level: Level;
    emotional_intensity_level: Level;
    sentiment_shift: string | null;
  };
  record: {
    id: string;
    url: string;
    source_url: string | null;
    content_excerpt: string;
    created_at: string | null;
    source: string;
  };
  /**
   * Added to the fields above (which keep their meaning): why the record alerted. `escalation_level` is the level at
   * the automation's sensitivity, the one its filter compared; span offsets are in the record's full content.
   */
  explanation?: AlertExplanation;
}

export interface AlertExplanation {
  sensitivity: Sensitivity;
  escalation_level: Level;
  signals: Signal[];
}

export interface ScoredRecord {
  recordId: string;
  source: string;
  sourceUrl: string | null;
  content: string;
  sourceCreatedAt: number | null;
  escalationLevel: Level;
  emotionalIntensityLevel: Level;
  sentimentShift: string | null;
}

/** At most EXCERPT_MAX characters, cut on a code point (never half an emoji), marked with … when cut. */
export function contentExcerpt(content: string): string {
  const text = content.trim();
  const points = Array.from(text);
  if (points.length <= EXCERPT_MAX) return text;
  return `${points
    .slice(0, EXCERPT_MAX - 1)
    .join('')
    .trimEnd()}…`;
}

/** Where the record lives in the dashboard. */
function recordUrl(publicUrl: string, recordId: string): string {
  return `${publicUrl}/shield/feedback/${encodeURIComponent(recordId)}`;
}

export function buildAlertPayload(
  ctx: Pick<DomainContext, 'config'>,
  automationId: string,
  companyCode: string,
  record: ScoredRecord,
  now: number,
  explanation?: AlertExplanation,
): ShieldAlertPayload {
  const payload: ShieldAlertPayload = {
    automation_id: automationId,
    org_id: companyCode,
    escalated_at: iso(now),
    levels: {
      escalation_level: record.escalationLevel,
      emotional_intensity_level: record.emotionalIntensityLevel,
      sentiment_shift: record.sentimentShift,
    },
    record: {
      id: record.recordId,
      url: recordUrl(ctx.config.publicUrl, record.recordId),
      source_url: record.sourceUrl,
      content_excerpt: contentExcerpt(record.content),
      created_at: record.sourceCreatedAt === null ? null : iso(record.sourceCreatedAt),
      source: record.source,
    },
  };
  if (explanation) payload.explanation = explanation;
  return payload;
}

/**
 * The idempotency key of one alert to one destination: also the receiver's `Idempotency-Key`, in the form Shield
 * receivers expect.
 */
const alertKey = (automationId: string, destinationId: string, recordId: string) =>
  `${automationId}:${destinationId}:${recordId}`;

/**
 * Emits one `shield.alert` in the caller's transaction: the event (feed), a delivery to each subscribed company
 * endpoint, and one per destination. Each destination's idempotency key is taken in `shield_alert_keys` first, whose
 * primary key makes a second alert for the same automation, destination and record impossible; if one is already
 * taken (a race, or a record scored again) this alert is dropped whole — inside a savepoint, because on PostgreSQL a
 * failed statement would otherwise doom the transaction. Returns whether the alert was written.
 */
export async function emitShieldAlert(
  ctx: DomainContext,
  work: Work,
  companyId: string,
  automation: ActiveAutomation,
  payload: ShieldAlertPayload,
): Promise<boolean> {
  const recordId = payload.record.id;
  const destinations = automation.destinations.map((d) => ({ ...d, key: alertKey(automation.id, d.id, recordId) }));
  await sql`savepoint shield_alert`.execute(work.tx);
  try {
    if (destinations.length)
      await work.tx
        .insertInto('shield_alert_keys')
        .values(destinations.map((d) => ({ key: d.key, company_id: companyId, created_at: work.now })))
        .execute();
    await emitEvent(ctx, work, {
      companyId,
      name: 'shield.alert',
      data: payload as unknown as Record<string, unknown>,
      toEndpoints: true,
      extraDeliveries: destinations.map((d) => ({ destinationId: d.id, target: d.type, idempotencyKey: d.key })),
    });
  } catch (err) {
    if (!ctx.store.profile.isUniqueViolation(err)) throw err;
    await sql`rollback to savepoint shield_alert`.execute(work.tx);
    await sql`release savepoint shield_alert`.execute(work.tx);
    return false;
  }
  await sql`release savepoint shield_alert`.execute(work.tx);
  return true;
}
