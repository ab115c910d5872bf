import type { Db } from '../storage/db.js';
import { SecretBox } from './secret-box.js';

/**
 * One value sealed with the master key, if the store holds any: a webhook endpoint's secret, else a Shield
 * destination's configuration. Enough to tell whether a key is the one the store's secrets were sealed with.
 */
export async function sampleSealedValue(db: Db): Promise<string | null> {
  const endpoint = await db.selectFrom('endpoints').select('secret_enc as sealed').limit(1).executeTakeFirst();
  if (endpoint) return endpoint.sealed;
  const destination = await db.selectFrom('destinations').select('config_enc as sealed').limit(1).executeTakeFirst();
  return destination?.sealed ?? null;
}

/** Whether `key` opens `sealed` (AES-256-GCM authenticates: another key fails rather than reading garbage). */
export function keyOpens(key: Buffer, sealed: string): boolean {
  try {
    new SecretBox(key).open(sealed);
    return true;
  } catch {
    return false;
  }
}

/** What to tell an operator whose master key does not open the store's secrets (a restored backup, most often). */
export const WRONG_MASTER_KEY =
  'does not open the webhook secrets stored in this database: they were sealed with another master key. ' +
  'A restored backup needs the master key of the data dir it was taken from: copy that master.key into DATA_DIR ' +
  '(mode 0600, replacing one made on this start) or set ESCALATR_MASTER_KEY to it';
