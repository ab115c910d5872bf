import { AppError } from '../errors.js';
import { brokerDefaultPort } from './brokers/destination.js';

/**
 * A stored receiver credential (bearer token, API key, custom header) belongs to the origin it was given for. When a
 * URL edit moves it to another scheme, host or port, the credential must be sent again: otherwise anyone able to
 * edit the URL — an admin, or a stolen admin key — could redirect the stored secret to a host of their choosing.
 */

const HTTP_DEFAULT_PORTS: Record<string, number> = { 'https:': 443, 'http:': 80 };

/**
 * Scheme, host and port as the URL parser reads them: the host lowercased and in punycode, the default port filled
 * in. Comparing these (not the text) makes `HTTPS://Example.COM:443/a` the same origin as `https://example.com/b`,
 * however either URL was spelled or normalised when it was saved.
 */
function originOf(raw: string): string | null {
  try {
    const url = new URL(raw);
    const port = url.port || HTTP_DEFAULT_PORTS[url.protocol] || brokerDefaultPort(url.protocol) || '';
    return `${url.protocol}//${url.hostname}:${port}`;
  } catch {
    return null;
  }
}

/** Whether both URLs have the same scheme, host and port; an unparseable URL matches nothing. */
export function sameOrigin(a: string, b: string): boolean {
  const origin = originOf(a);
  return origin !== null && origin === originOf(b);
}

/** The refusal, naming the field where the credential goes. */
export function credentialsRequired(field: string): AppError {
  return new AppError(
    'credentials_required',
    `${field}: the URL's scheme, host or port changed, so send the credential again (or set the auth type to none)`,
    { field },
  );
}
