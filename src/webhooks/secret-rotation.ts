import { validationFailed } from '../errors.js';
import type { SecretBox } from '../security/secret-box.js';
import { newWebhookSecret } from './signature.js';

/**
 * A signing secret as stored on whatever signs with one (a company endpoint, a Shield webhook destination): the
 * current secret sealed, and the previous one while a rotation's grace period lasts.
 */
export interface SealedSigningSecrets {
  secret_enc: string;
  prev_secret_enc: string | null;
  prev_secret_expires_at: number | null;
}

export const MAX_GRACE_PERIOD_S = 7 * 24 * 3600;

/** The secrets that sign at `now`: the current one, then the previous one while its grace period lasts. */
export function openSigningSecrets(box: SecretBox, sealed: SealedSigningSecrets, now: number): string[] {
  const secrets = [box.open(sealed.secret_enc)];
  if (sealed.prev_secret_enc && sealed.prev_secret_expires_at !== null && sealed.prev_secret_expires_at > now) {
    secrets.push(box.open(sealed.prev_secret_enc));
  }
  return secrets;
}

/**
 * A new secret replacing `currentEnc`. With no grace period the old one stops signing at once; with one, both sign
 * until it ends, so receivers can roll over without failed deliveries.
 */
export function rotateSigningSecret(
  box: SecretBox,
  currentEnc: string | null,
  gracePeriodS: number,
  now: number,
): { secret: string; sealed: SealedSigningSecrets; previousExpiresAt: number | null } {
  if (!Number.isInteger(gracePeriodS) || gracePeriodS < 0 || gracePeriodS > MAX_GRACE_PERIOD_S) {
    throw validationFailed(`grace_period_s must be a whole number from 0 to ${MAX_GRACE_PERIOD_S} (7 days)`, {
      field: 'grace_period_s',
    });
  }
  const secret = newWebhookSecret();
  const grace = gracePeriodS > 0 && currentEnc !== null;
  const previousExpiresAt = grace ? now + gracePeriodS * 1000 : null;
  return {
    secret,
    sealed: {
      secret_enc: box.seal(secret),
      prev_secret_enc: grace ? currentEnc : null,
      prev_secret_expires_at: previousExpiresAt,
    },
    previousExpiresAt,
  };
}
