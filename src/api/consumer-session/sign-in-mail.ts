import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../config.js';
import { smtpSettings, smtpTransport } from '../../smtp.js';

/** How long sending one sign-in mail may take before the request gives up. */
const SEND_TIMEOUT_MS = 15_000;

/**
 * The portal page that follows a link. The token travels in the fragment, which a browser never sends: it stays out
 * of the server's request log and of any Referer, and the page itself POSTs it.
 */
const signInUrl = (publicUrl: string, token: string) =>
  `${publicUrl}/portal/sign-in#token=${encodeURIComponent(token)}`;

/**
 * Sends a consumer their sign-in link. With SMTP_URL the link goes by mail only and never into the log. Without it
 * (development, where no mail server is set up) the link is written to the log at warn level, as the only way to
 * sign in; a deployment serving real consumers sets SMTP_URL.
 */
export async function sendSignInLink(
  config: Pick<Config, 'smtpUrl' | 'publicUrl'>,
  log: FastifyBaseLogger,
  to: string,
  token: string,
  ttlMinutes: number,
): Promise<void> {
  const link = signInUrl(config.publicUrl, token);
  if (!config.smtpUrl) {
    log.warn(
      { sign_in_link: link, to },
      'consumer sign-in link (SMTP_URL is not set, so it is logged instead of mailed)',
    );
    return;
  }
  // SMTP_URL may carry `?from=` for the sender address; otherwise no-reply@ the public host.
  const { url, from } = smtpSettings(config.smtpUrl, `Escalatr <no-reply@${new URL(config.publicUrl).hostname}>`);
  const transport = await smtpTransport(url, SEND_TIMEOUT_MS);
  try {
    await transport.sendMail({
      from,
      to,
      subject: 'Your Escalatr sign-in link',
      text: [
        'Use this link to sign in to the Escalatr consumer portal:',
        '',
        link,
        '',
        `It works once, within ${ttlMinutes} minutes. If you did not ask for it, ignore this mail.`,
      ].join('\n'),
    });
  } finally {
    transport.close();
  }
}
