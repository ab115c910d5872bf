import { createHash, randomBytes } from 'node:crypto';

/**
 * Bearer credentials (API keys `esc_…`, consumer tokens `csk_…`, session cookies): 32 random bytes, base64url.
 * Only the SHA-256 is stored. Lookup is by that hash, so timing reveals nothing about a stored key.
 */
export function newToken(prefix: string): { token: string; hash: string; displayPrefix: string } {
  const token = `${prefix}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token), displayPrefix: token.slice(0, prefix.length + 8) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
