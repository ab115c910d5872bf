import type { Transporter } from 'nodemailer';

/**
 * SMTP_URL split into the server's URL and the sender address: `?from=` names the sender, otherwise `defaultFrom`.
 * Throws on a URL that does not parse.
 */
export function smtpSettings(smtpUrl: string, defaultFrom: string): { url: URL; from: string } {
  const url = new URL(smtpUrl);
  const from = url.searchParams.get('from') ?? defaultFrom;
  url.searchParams.delete('from');
  return { url, from };
}

/**
 * A transport to one SMTP server with every phase (DNS, connecting, the greeting, each socket read) bounded by
 * `timeoutMs`. Nodemailer is loaded on the first mail: most processes never send one (mail is for consumers' sign-in
 * links and Shield's email alerts, and only where SMTP_URL is set), and loading it costs every process about 3 MB of
 * heap for its whole life.
 */
export async function smtpTransport(url: URL, timeoutMs: number): Promise<Transporter> {
  const { default: nodemailer } = await import('nodemailer');
  return nodemailer.createTransport({
    url: url.toString(),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
  });
}
