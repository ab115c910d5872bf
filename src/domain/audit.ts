import { newId } from '../ids.js';
import type { Tx } from '../storage/db.js';

export interface AuditEntry {
  /** Who acted: `cli:{os user}` or `api:operator-token` with the client address. */
  actor: string;
  action: 'consumer.erase';
  /** The subject's internal id, never its personal data; null when the store knew no such subject. */
  subject: string | null;
  details: Record<string, unknown>;
}

/** Writes one entry of the operators' audit log in the caller's transaction: it commits with the action or not at all. */
export async function writeAudit(tx: Tx, now: number, entry: AuditEntry): Promise<string> {
  const id = newId('aud');
  await tx
    .insertInto('audit_log')
    .values({
      id,
      at: now,
      actor: entry.actor,
      action: entry.action,
      subject: entry.subject,
      details: JSON.stringify(entry.details),
    })
    .execute();
  return id;
}
