import { performance } from 'node:perf_hooks';
import type { DomainContext } from '../../domain/context.js';
import { attemptErrorMessage, type AttemptErrorKind, type AttemptOutcome } from '../../queue/attempt.js';
import type { DeliveryTarget } from '../../webhooks/targets.js';
import type { ShieldAlertPayload } from '../alerts.js';
import { smtpSettings, smtpTransport } from '../../smtp.js';
import { alertPayload, destinationFor, headerSafe } from './plan-common.js';

/**
 * Error kinds an SMTP attempt adds to the HTTP sender's. The attempts table stores the kind as text; the cast below
 * is the one place these widen AttemptErrorKind.
 */
export type EmailErrorKind = AttemptErrorKind | 'smtp_not_configured' | 'smtp_auth' | 'smtp_rejected';

export const escapeHtml = (text: string) =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
const upper = (s: string) => s.toUpperCase();

export interface AlertEmail {
  subject: string;
  text: string;
  html: string;
}

/** Subject, plain text and HTML of one alert email; every value from the feedback is escaped in the HTML. */
function alertEmail(alert: ShieldAlertPayload): AlertEmail {
  const { levels, record } = alert;
  const subject = `[Escalation Shield] ${upper(levels.escalation_level)} escalation risk from ${record.source}`;
  const facts: [string, string][] = [
    ['Escalation level', upper(levels.escalation_level)],
    ['Emotional intensity', upper(levels.emotional_intensity_level)],
    ['Sentiment', levels.sentiment_shift ?? 'no history'],
    ['Source', record.source],
    ['Record', record.id],
    ['Created', record.created_at ?? 'unknown'],
    ['Alerted', alert.escalated_at],
    ['Automation', alert.automation_id],
  ];
  const text = [
    `Escalation Shield flagged feedback from ${record.source} as ${upper(levels.escalation_level)} escalation risk.`,
    '',
    record.content_excerpt
      .split('\n')
      .map((l) => `> ${l}`)
      .join('\n'),
    '',
    ...facts.map(([k, v]) => `${k}: ${v}`),
    '',
    `Open the record: ${record.url}`,
    ...(record.source_url ? [`Open in ${record.source}: ${record.source_url}`] : []),
  ].join('\n');
  const rows = facts
    .map(
      ([k, v]) =>
        `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`,
    )
    .join('');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2>${escapeHtml(upper(levels.escalation_level))} escalation risk from ${escapeHtml(record.source)}</h2>`,
    `<blockquote style="border-left:4px solid #c33;margin:0;padding:4px 12px;white-space:pre-wrap">${escapeHtml(record.content_excerpt)}</blockquote>`,
    `<table style="margin-top:12px">${rows}</table>`,
    `<p><a href="${escapeHtml(record.url)}">Open the record</a>`,
    record.source_url ? ` · <a href="${escapeHtml(record.source_url)}">Open in ${escapeHtml(record.source)}</a>` : '',
    '</p></body></html>',
  ].join('');
  return { subject, text, html };
}

/** SMTP_URL may carry `?from=` for the sender address; otherwise shield@ the public host. */
function shieldSmtpSettings(smtpUrl: string, publicUrl: string): { url: URL; from: string; secrets: string[] } {
  const { url, from } = smtpSettings(smtpUrl, `Escalatr Shield <shield@${new URL(publicUrl).hostname}>`);
  const secrets = [url.password, decodeURIComponent(url.password)].filter((s) => s.length >= 4);
  return { url, from, secrets };
}

const codesOf = (err: unknown, depth = 0): string[] => {
  if (!err || typeof err !== 'object' || depth > 4) return [];
  const e = err as { code?: unknown; cause?: unknown };
  return [...(typeof e.code === 'string' ? [e.code] : []), ...codesOf(e.cause, depth + 1)];
};

/** Nodemailer's errors as an attempt outcome: connection problems, authentication, or the server refusing the mail. */
export function classifySmtpError(err: unknown): EmailErrorKind {
  const codes = codesOf(err);
  const responseCode = (err as { responseCode?: unknown } | null)?.responseCode;
  if (codes.includes('ETIMEDOUT')) return 'timeout';
  if (codes.includes('ECONNREFUSED')) return 'connection_refused';
  if (codes.includes('EDNS') || codes.includes('ENOTFOUND')) return 'dns';
  if (codes.includes('ETLS')) return 'tls';
  if (codes.includes('EAUTH') || codes.includes('ENOAUTH')) return 'smtp_auth';
  if (codes.includes('EENVELOPE') || codes.includes('EMESSAGE') || typeof responseCode === 'number')
    return 'smtp_rejected';
  if (codes.includes('ECONNECTION') || codes.includes('ESOCKET') || codes.includes('ECONNRESET'))
    return 'connection_reset';
  return 'other';
}

function outcome(
  ok: boolean,
  durationMs: number,
  errorKind: EmailErrorKind | null,
  errorMessage: string | null,
  excerpt: string | null,
): AttemptOutcome {
  return {
    ok,
    statusCode: null,
    durationMs,
    errorKind: errorKind as AttemptErrorKind | null,
    errorMessage,
    responseExcerpt: excerpt,
    retryAfterMs: null,
    gone: false,
  };
}

class SendTimeout extends Error {}

/**
 * Sends one alert email (a Shield alert, an operational alert) over SMTP. Never throws: every failure becomes a
 * failed attempt the worker retries.
 */
export async function sendAlertEmail(
  ctx: Pick<DomainContext, 'config'>,
  to: string[],
  mail: AlertEmail,
  idempotencyKey: string,
  timeoutMs: number,
): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const smtpUrl = ctx.config.smtpUrl ?? null;
  if (!smtpUrl)
    return outcome(false, 0, 'smtp_not_configured', 'SMTP_URL is not set, so email alerts cannot be sent', null);
  let settings: ReturnType<typeof shieldSmtpSettings>;
  try {
    settings = shieldSmtpSettings(smtpUrl, ctx.config.publicUrl);
  } catch {
    return outcome(false, 0, 'smtp_not_configured', 'SMTP_URL is not a valid URL', null);
  }
  const transport = await smtpTransport(settings.url, timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  try {
    const sent = transport.sendMail({
      from: settings.from,
      to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      // Lets a receiving system deduplicate retries, like the webhook's Idempotency-Key.
      headers: { 'X-Escalatr-Idempotency-Key': headerSafe(idempotencyKey) },
    });
    // One budget for the whole exchange, like an HTTP attempt; nodemailer's own timeouts are per phase.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SendTimeout(`no answer from the SMTP server within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const info = await Promise.race([sent, deadline]);
    return outcome(
      true,
      elapsed(),
      null,
      null,
      typeof info.response === 'string' ? info.response.slice(0, 2048) : null,
    );
  } catch (err) {
    const kind = err instanceof SendTimeout ? 'timeout' : classifySmtpError(err);
    // The mail server's own words can name its addresses: the tenant sees a fixed text, the log the detail.
    const responseCode = (err as { responseCode?: unknown } | null)?.responseCode;
    const shown = attemptErrorMessage(kind as AttemptErrorKind, {
      timeoutMs,
      smtpCode: typeof responseCode === 'number' ? responseCode : null,
    });
    let detail = err instanceof Error ? err.message : 'unknown SMTP error';
    for (const secret of settings.secrets) detail = detail.split(secret).join('[redacted]');
    return { ...outcome(false, elapsed(), kind, shown, null), detail: detail.slice(0, 500) };
  } finally {
    clearTimeout(timer);
    transport.close();
  }
}

/** An email destination: SMTP through SMTP_URL, performed by the target itself (a custom plan). */
export const emailTarget: DeliveryTarget = {
  async plan(ctx, delivery, event) {
    const dest = await destinationFor(ctx, delivery, 'email');
    if ('kind' in dest) return dest;
    const mail = alertEmail(alertPayload(event));
    const timeoutMs = dest.row.timeout_ms;
    return {
      kind: 'custom',
      timeoutMs,
      send: () => sendAlertEmail(ctx, dest.config.to, mail, delivery.idempotency_key, timeoutMs),
    };
  },
};
