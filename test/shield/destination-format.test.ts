import { describe, expect, it } from 'vitest';
import { contentExcerpt, EXCERPT_MAX } from '../../src/shield/alerts.js';
import { classifySmtpError } from '../../src/shield/destinations/email.js';
import { headerSafe } from '../../src/shield/destinations/plan-common.js';
import { slackEscape } from '../../src/shield/destinations/slack.js';
import { authHeaders } from '../../src/shield/destinations/webhook.js';

describe('shield destination formatting', () => {
  it('cuts the excerpt at 500 characters on a code point boundary', () => {
    expect(contentExcerpt('  short  ')).toBe('short');
    const emoji = '🙂'.repeat(600);
    const cut = contentExcerpt(emoji);
    expect(Array.from(cut)).toHaveLength(EXCERPT_MAX);
    expect(cut.endsWith('🙂…')).toBe(true);
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(contentExcerpt('a'.repeat(500))).toBe('a'.repeat(500));
  });

  it('makes any record id a valid, stable Idempotency-Key header value', () => {
    expect(headerSafe('aut_1:dst_2:12345')).toBe('aut_1:dst_2:12345');
    expect(headerSafe('aut_1:dst_2:ticket 7')).toBe('aut_1:dst_2:ticket 7');
    expect(headerSafe('aut_1:dst_2:café')).toBe('aut_1:dst_2:caf%C3%A9');
    expect(headerSafe('aut_1:dst_2:trailing ')).toBe('aut_1:dst_2:trailing%20');
    expect(headerSafe('aut_1:dst_2:café')).toBe(headerSafe('aut_1:dst_2:café'));
  });

  it('builds the auth header of each option', () => {
    expect(authHeaders({ type: 'none' })).toEqual({});
    expect(authHeaders({ type: 'bearer', token: 't1' })).toEqual({ Authorization: 'Bearer t1' });
    expect(authHeaders({ type: 'api_key', token: 't2' })).toEqual({ 'X-API-Key': 't2' });
    expect(authHeaders({ type: 'custom_header', token: 't3', header_name: 'X-Mine' })).toEqual({ 'X-Mine': 't3' });
  });

  it('escapes Slack control characters', () => {
    expect(slackEscape('<!channel> & <http://x|y>')).toBe('&lt;!channel&gt; &amp; &lt;http://x|y&gt;');
  });

  it('maps SMTP failures to attempt error kinds', () => {
    const err = (props: Record<string, unknown>) => Object.assign(new Error('x'), props);
    expect(classifySmtpError(err({ code: 'ETIMEDOUT' }))).toBe('timeout');
    expect(classifySmtpError(err({ code: 'ESOCKET', cause: { code: 'ECONNREFUSED' } }))).toBe('connection_refused');
    expect(classifySmtpError(err({ code: 'EAUTH', responseCode: 535 }))).toBe('smtp_auth');
    expect(classifySmtpError(err({ code: 'EENVELOPE', responseCode: 550 }))).toBe('smtp_rejected');
    expect(classifySmtpError(err({ code: 'ETLS' }))).toBe('tls');
    expect(classifySmtpError(err({ code: 'EDNS' }))).toBe('dns');
    expect(classifySmtpError(err({ code: 'ECONNECTION' }))).toBe('connection_reset');
    expect(classifySmtpError(new Error('??'))).toBe('other');
  });
});
