import type { DomainContext } from '../../domain/context.js';
import type { StoredEvent } from '../../queue/delivery.js';
import { OPS_TARGETS } from '../../webhooks/operational-events.js';
import { operationsEmailOn, operationsRecipients, operationsSlackUrl } from '../../webhooks/operations-settings.js';
import type { TargetRegistry } from '../../webhooks/targets.js';
import { EMAIL_TIMEOUT_MS, SLACK_TIMEOUT_MS } from './config.js';
import { escapeHtml, sendAlertEmail, type AlertEmail } from './email.js';
import { plainHttpRefused } from './plan-common.js';
import { slackEscape } from './slack.js';

/**
 * The company's operations destinations (webhooks/operations-settings.ts): operational events sent as an email to
 * the owners and admins and as a Slack message. Both read the setting when they send, so a destination removed
 * since the event was written ends its delivery without an attempt.
 */

interface OpsEvent {
  event: string;
  timestamp: string;
  data: Record<string, unknown>;
}

const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));

/** One line that says what happened, and the facts below it. */
function summary(e: OpsEvent): { title: string; facts: Array<[string, string]> } {
  const d = e.data;
  const endpoint = str(d.description) || str(d.url);
  switch (e.event) {
    case 'endpoint.failing':
      return {
        title: d.final_notice
          ? `Webhook endpoint ${endpoint} will be disabled in a day`
          : `Webhook endpoint ${endpoint} has been failing for a day`,
        facts: [
          ['Endpoint', str(d.url)],
          ['Failing since', str(d.failing_since)],
          ['Disabled automatically at', str(d.disables_at)],
        ],
      };
    case 'endpoint.disabled':
      return {
        title: `Webhook endpoint ${endpoint} was disabled`,
        facts: [
          ['Endpoint', str(d.url)],
          ['Reason', d.reason === 'gone' ? 'the receiver answered 410 Gone' : '5 days of failures'],
          ['Disabled at', str(d.disabled_at)],
        ],
      };
    case 'endpoint.recovered':
      return {
        title: `Webhook endpoint ${endpoint} is delivering again`,
        facts: [
          ['Endpoint', str(d.url)],
          ['Recovered at', str(d.recovered_at)],
        ],
      };
    default:
      return {
        title: `A ${str(d.event)} delivery used up its retries`,
        facts: [
          ['Delivery', str(d.delivery_id)],
          ['Event', str(d.event_id)],
          ['Attempts', str(d.attempt_count)],
          ['Last error', str(d.last_error)],
        ],
      };
  }
}

const parse = (event: StoredEvent) => JSON.parse(event.body) as OpsEvent;

function opsEmail(e: OpsEvent): AlertEmail {
  const { title, facts } = summary(e);
  const shown = facts.filter(([, v]) => v !== '');
  return {
    subject: `[Escalatr operations] ${title}`,
    text: [title, '', ...shown.map(([k, v]) => `${k}: ${v}`), '', `Event: ${e.event} at ${e.timestamp}`].join('\n'),
    html: [
      '<!doctype html><html><body style="font-family:sans-serif">',
      `<h2>${escapeHtml(title)}</h2><table>`,
      ...shown.map(
        ([k, v]) =>
          `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`,
      ),
      `</table><p>${escapeHtml(e.event)} at ${escapeHtml(e.timestamp)}</p></body></html>`,
    ].join(''),
  };
}

function opsSlackMessage(e: OpsEvent): string {
  const { title, facts } = summary(e);
  const lines = facts.filter(([, v]) => v !== '').map(([k, v]) => `*${k}:* ${slackEscape(v)}`);
  return JSON.stringify({
    text: slackEscape(title),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${slackEscape(title)}*\n${lines.join('\n')}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${e.event} · ${e.timestamp}` }] },
    ],
  });
}

export const operationsTargets: TargetRegistry = {
  [OPS_TARGETS.email]: {
    async plan(ctx: DomainContext, delivery, event) {
      if (!(await operationsEmailOn(ctx, delivery.company_id)))
        return { kind: 'skip', reason: 'operations email alerts were turned off' };
      const to = await operationsRecipients(ctx, delivery.company_id);
      if (to.length === 0) return { kind: 'skip', reason: 'the company has no owner or admin to email' };
      const mail = opsEmail(parse(event));
      return {
        kind: 'custom',
        timeoutMs: EMAIL_TIMEOUT_MS,
        send: () => sendAlertEmail(ctx, to, mail, delivery.idempotency_key, EMAIL_TIMEOUT_MS),
      };
    },
  },
  [OPS_TARGETS.slack]: {
    async plan(ctx: DomainContext, delivery, event) {
      let url: string | null;
      try {
        url = await operationsSlackUrl(ctx, delivery.company_id);
      } catch {
        return { kind: 'skip', reason: 'the Slack URL cannot be decrypted with the current master key' };
      }
      if (!url) return { kind: 'skip', reason: 'the operations Slack webhook was removed' };
      const refused = plainHttpRefused(ctx, url);
      if (refused) return refused;
      return {
        kind: 'http',
        url,
        headers: { 'Content-Type': 'application/json', 'User-Agent': 'Escalatr-Operations/1.0' },
        body: opsSlackMessage(parse(event)),
        timeoutMs: SLACK_TIMEOUT_MS,
      };
    },
  },
};
