import { Blocks, Elements, Md, Message } from 'slack-block-builder';
import type { DeliveryTarget } from '../../webhooks/targets.js';
import type { ShieldAlertPayload } from '../alerts.js';
import { SHIELD_USER_AGENT, alertPayload, destinationFor, plainHttpRefused } from './plan-common.js';

const LEVEL_EMOJI: Record<string, string> = { none: '⚪', low: '🟢', medium: '🟡', high: '🟠', extreme: '🔴' };
// Slack rejects a message whose header exceeds 150 characters or a section text 3000.
const HEADER_MAX = 150;
const BUTTON_URL_MAX = 3000;

/** Slack mrkdwn treats &, < and > as control characters: escaped, feedback text can never form a link or mention. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const cap = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const upper = (level: string) => level.toUpperCase();

/** The Block Kit message for one alert: the level up front, the excerpt quoted, the facts, a link back to the record. */
function slackMessage(alert: ShieldAlertPayload): string {
  const { levels, record } = alert;
  const title =
    `${LEVEL_EMOJI[levels.escalation_level] ?? ''} ${upper(levels.escalation_level)} escalation risk from ${record.source}`.trim();
  const quoted = slackEscape(record.content_excerpt)
    .split('\n')
    .map((line) => `>${line}`)
    .join('\n');
  const fields = [
    `${Md.bold('Escalation')}\n${upper(levels.escalation_level)}`,
    `${Md.bold('Emotional intensity')}\n${upper(levels.emotional_intensity_level)}`,
    `${Md.bold('Source')}\n${slackEscape(record.source)}`,
    `${Md.bold('Sentiment')}\n${levels.sentiment_shift ?? 'no history'}`,
  ];
  const buttons = [
    record.url.length <= BUTTON_URL_MAX
      ? Elements.Button({ text: 'Open record', url: record.url, actionId: 'open_record' }).primary()
      : undefined,
    record.source_url && record.source_url.length <= BUTTON_URL_MAX
      ? Elements.Button({ text: 'Open in source', url: record.source_url, actionId: 'open_source' })
      : undefined,
  ];
  const context = [
    `Record ${slackEscape(record.id)}`,
    record.created_at ? `created ${record.created_at}` : null,
    `alerted ${alert.escalated_at}`,
    `org ${alert.org_id}`,
  ]
    .filter(Boolean)
    .join(' · ');
  return Message({ text: cap(`${title}: ${record.content_excerpt}`, 300) })
    .blocks(
      Blocks.Header({ text: cap(title, HEADER_MAX) }),
      Blocks.Section({ text: quoted || '>(empty)' }),
      Blocks.Section().fields(fields),
      Blocks.Context().elements(cap(context, 2000)),
      buttons.some(Boolean) ? Blocks.Actions().elements(buttons) : undefined,
    )
    .buildToJSON();
}

/** A Slack incoming webhook: POSTs the alert as a Block Kit message. */
export const slackTarget: DeliveryTarget = {
  async plan(ctx, delivery, event) {
    const dest = await destinationFor(ctx, delivery, 'slack');
    if ('kind' in dest) return dest;
    const refused = plainHttpRefused(ctx, dest.config.url);
    if (refused) return refused;
    return {
      kind: 'http',
      url: dest.config.url,
      headers: { 'Content-Type': 'application/json', 'User-Agent': SHIELD_USER_AGENT },
      body: slackMessage(alertPayload(event)),
      timeoutMs: dest.row.timeout_ms,
    };
  },
};
