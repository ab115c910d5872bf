import { sql } from 'kysely';
import { iso } from '../clock.js';
import { writeAudit } from '../domain/audit.js';
import { transact, type DomainContext } from '../domain/context.js';
import {
  addressIn,
  ERASED,
  eraseComplaintRecords,
  EVENT_BODIES,
  findErasureSubject,
  scanForAddress,
  type ComplaintErasureCounts,
  type Redactor,
  type ScanResult,
  type ScannedColumn,
} from '../domain/erasure.js';
import { normaliseEmail } from '../domain/users.js';
import { AppError } from '../errors.js';
import { clearResponseExcerpts } from '../queue/redact.js';
import type { Tx } from '../storage/db.js';
import type { DialectProfile } from '../storage/dialects.js';
import { alertEventsOf } from './record-alerts.js';

/** What an erasure did, in counts: the answer of the CLI and the operator route, and the audit entry's details. */
export interface ErasureResult extends ComplaintErasureCounts {
  /** Whether the store held anything of the person (false: nothing was changed; erasing again answers false). */
  found: boolean;
  feedback_records_redacted: number;
  attempt_excerpts_cleared: number;
  audit_id: string;
  erased_at: string;
}

const FEEDBACK_TEXT: ScannedColumn = { table: 'feedback_records', column: 'content' };

/**
 * Shield feedback records of the person: those whose customer or thread id is their e-mail address or whose text names it
 * (found by the scan before the transaction, and here among the records stored since).
 * Their text, customer id, source link and matched cues go (the record stays, scored, for the company's figures);
 * their `shield.alert` events lose the excerpt and link. The text joins the redactor, so copies elsewhere go too.
 * Returns how many records changed and the alert events to redact.
 */
async function eraseFeedback(
  tx: Tx,
  profile: DialectProfile,
  redactor: Redactor,
  scanned: ScanResult,
): Promise<{ records: number; alertEventIds: string[] }> {
  const records = await tx
    .selectFrom('feedback_records')
    .select(['id', 'company_id', 'record_id', 'content', 'thread_id'])
    .where((eb) =>
      eb.or([
        eb(sql`lower(customer_id)`, '=', redactor.email),
        eb(sql`lower(thread_id)`, '=', redactor.email),
        ...(scanned.ids.length ? [eb('id', 'in', scanned.ids)] : []),
        eb.and([eb('id', '>', scanned.through), addressIn(FEEDBACK_TEXT, redactor.email)]),
      ]),
    )
    .execute();
  const alertEventIds: string[] = [];
  for (const r of records) {
    redactor.addText(r.content);
    await tx
      .updateTable('feedback_records')
      .set({
        content: ERASED,
        customer_id: null,
        source_url: null,
        cues: null,
        explanation: null,
        // A thread keyed by the address is the address; any other thread id is the source's and stays.
        thread_id: r.thread_id?.toLowerCase() === redactor.email ? null : r.thread_id,
      })
      .where('id', '=', r.id)
      .execute();
    const alerts = await alertEventsOf({ db: tx, profile }, r.company_id, r.record_id)
      .select(['e.id', 'e.body'])
      .execute();
    for (const e of alerts) {
      const body = JSON.parse(e.body) as { data?: { record?: Record<string, unknown> } };
      if (body.data?.record) Object.assign(body.data.record, { content_excerpt: ERASED, source_url: null });
      await tx
        .updateTable('events')
        .set({ body: JSON.stringify(body) })
        .where('id', '=', e.id)
        .execute();
      alertEventIds.push(e.id);
    }
  }
  return { records: records.length, alertEventIds };
}

/**
 * Erases one consumer's personal data everywhere the store copied it, in one transaction: the consumer row and
 * tokens, the person's identity and words in complaint records (src/domain/erasure.ts), Shield feedback records
 * linked to the address, event bodies (deliveries still pending send the redacted body) and attempts' response
 * excerpts; and writes an audit entry with counts only. Idempotent: an unknown or already erased address changes
 * nothing and answers `found: false` (still audited: who asked, and when). This is an operator's action: a
 * consumer's data spans companies, so no company credential may call it.
 */
export async function eraseConsumer(
  ctx: DomainContext,
  input: { email: string; actor: string },
): Promise<ErasureResult> {
  const email = normaliseEmail(input.email);
  if (!email) throw new AppError('validation_failed', 'email is not a valid address', { field: 'email' });
  // The unindexed searches for the address run first, in short steps outside the transaction; the transaction then
  // looks only at rows written since.
  const feedbackNaming = await scanForAddress(ctx.store.db, FEEDBACK_TEXT, email);
  const eventsNaming = await scanForAddress(ctx.store.db, EVENT_BODIES, email);
  return ctx.store.profile.withErasedSpaceCleared(ctx.store.db, () =>
    transact(ctx, async (work) => {
      const subject = await findErasureSubject(work.tx, email);
      const feedback = await eraseFeedback(work.tx, ctx.store.profile, subject.redactor, feedbackNaming);
      const { counts, redactedEventIds } = await eraseComplaintRecords(
        work.tx,
        subject,
        eventsNaming,
        feedback.alertEventIds,
      );
      const touched = [...new Set([...redactedEventIds, ...feedback.alertEventIds])];
      const attemptExcerpts = await clearResponseExcerpts(work.tx, ctx.store.profile, touched);
      counts.events_redacted = touched.length;
      const found =
        subject.consumerId !== null || feedback.records > 0 || touched.length > 0 || counts.messages_redacted > 0;
      const details = {
        found,
        ...counts,
        feedback_records_redacted: feedback.records,
        attempt_excerpts_cleared: attemptExcerpts,
      };
      const auditId = await writeAudit(work.tx, work.now, {
        actor: input.actor,
        action: 'consumer.erase',
        subject: subject.consumerId,
        details,
      });
      return { ...details, audit_id: auditId, erased_at: iso(work.now) };
    }),
  );
}
