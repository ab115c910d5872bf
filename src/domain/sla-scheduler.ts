import type { Logger } from 'pino';
import { iso } from '../clock.js';
import { PeriodicJob } from '../periodic.js';
import { applyBreachRule } from './breach-rule.js';
import { applyChange, escalation, lockComplaint, type EscalationTrigger } from './complaint-changes.js';
import { decide } from './complaint-levels.js';
import { eventBase, type ComplaintRow } from './complaints.js';
import { transact, type DomainContext, type Work } from './context.js';
import { emitEvent } from './events.js';
import { isActive, levelName, MAX_LEVEL } from './lifecycle.js';
import { companyTimers, windowAlerts } from './sla.js';

const BATCH = 100;
const MAX_ROUNDS = 50;
/**
 * A complaint or draft whose step failed for a reason of its own (not a busy store) is left out of the scheduler's
 * reads this long, so it cannot hold the head of the due order and stall every other company's windows; then it is
 * tried again. At most MAX_SET_ASIDE are set aside at once.
 */
const RETRY_AFTER_MS = 60_000;
const MAX_SET_ASIDE = 1000;

/** `set_aside`: the step failed and the row is left out of reads for a while (see `attempt`). */
type Outcome = 'escalated' | 'settled' | 'lost' | 'set_aside';

/**
 * Announces the warnings (`complaint.sla_warning`) and breach (`complaint.sla_breached`) of response windows, and
 * escalates complaints whose window passed with no staff response (`auto_sla`) and those whose drafted
 * action went unanswered past its wait (`auto_action_wait`), with the same escalation change a consumer's step
 * applies. Safe with many schedulers on one database: each escalation locks the complaint and re-checks the state
 * that was read (a concurrent writer is waited for, then seen), and an action draft is settled in the same
 * transaction as its escalation, so exactly one scheduler acts on each and a crash between the two is impossible.
 */
export class SlaScheduler {
  private readonly job: PeriodicJob<number>;
  /** Complaints (by escalatr_id) and drafts (by id) whose step failed, with when each may be tried again. */
  private readonly setAside = { complaints: new Map<string, number>(), drafts: new Map<string, number>() };

  constructor(
    private readonly ctx: DomainContext,
    private readonly log?: Logger,
    intervalMs = 5_000,
  ) {
    this.job = new PeriodicJob({
      intervalMs,
      run: () => this.pass(),
      onError: (err) => this.log?.error({ err }, 'sla scheduler tick failed'),
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass over everything due now; returns how many complaints were escalated. Tests call it directly. */
  tick(): Promise<number> {
    return this.job.run();
  }

  private async pass(): Promise<number> {
    let escalated = 0;
    // Bounded, so one tick cannot spin forever on rows it keeps losing races for.
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const a = await this.escalateOverdue();
      const b = await this.escalateUnansweredActions();
      escalated += a.escalated + b.escalated;
      const fullBatch = a.seen === BATCH || b.seen === BATCH;
      // A round that changed nothing would only read the same rows again (a row set aside is not read again).
      if (!fullBatch || a.changed + b.changed === 0) break;
    }
    return escalated;
  }

  /** Windows whose next warning or breach has come (`sla_alert_at`, null once nothing more is owed). */
  private async escalateOverdue() {
    const now = this.ctx.clock.now();
    const skip = stillAside(this.setAside.complaints, now);
    let query = this.ctx.store.db
      .selectFrom('complaints')
      .select(['escalatr_id', 'level', 'sla_alert_at'])
      .where('sla_alert_at', '<=', now)
      .where('status', 'in', ['Open', 'Escalated'])
      .where('stage', '!=', 'Closure');
    if (skip.length) query = query.where('escalatr_id', 'not in', skip);
    const due = await query.orderBy('sla_alert_at').limit(BATCH).execute();
    const outcomes: Outcome[] = [];
    for (const c of due)
      outcomes.push(
        await this.attempt(this.setAside.complaints, c.escalatr_id, { escalatr_id: c.escalatr_id }, () =>
          this.alertWindow(c.escalatr_id, c.level, c.sla_alert_at!),
        ),
      );
    return summarise(due.length, outcomes);
  }

  private async escalateUnansweredActions() {
    const now = this.ctx.clock.now();
    const skip = stillAside(this.setAside.drafts, now);
    let query = this.ctx.store.db
      .selectFrom('action_drafts')
      .select(['id', 'complaint_id', 'created_at'])
      .where('respond_by', '<=', now)
      .where('wait_escalated_at', 'is', null);
    if (skip.length) query = query.where('id', 'not in', skip);
    const drafts = await query.orderBy('respond_by').limit(BATCH).execute();
    const outcomes: Outcome[] = [];
    for (const d of drafts)
      outcomes.push(
        await this.attempt(this.setAside.drafts, d.id, { escalatr_id: d.complaint_id, draft_id: d.id }, () =>
          this.settleActionWait(d.id, d.complaint_id, d.created_at),
        ),
      );
    return summarise(drafts.length, outcomes);
  }

  /**
   * One complaint's step. If the store is busy (on SQLite, another handle holds the write lock and this
   * transaction's snapshot is stale), the complaint is left for the next tick. Any other failure is the row's own
   * (its company's stored settings, say): it is logged and the row set aside for RETRY_AFTER_MS, and the pass goes
   * on with every other company's complaints.
   */
  private async attempt(
    aside: Map<string, number>,
    key: string,
    about: Record<string, string>,
    step: () => Promise<Outcome>,
  ): Promise<Outcome> {
    try {
      return await step();
    } catch (err) {
      if (this.ctx.store.profile.isUnavailable(err)) {
        this.log?.warn({ ...about, err }, 'sla scheduler skipped a complaint: store busy');
        return 'lost';
      }
      const room = aside.size < MAX_SET_ASIDE;
      if (room) aside.set(key, this.ctx.clock.now() + RETRY_AFTER_MS);
      this.log?.error(
        { ...about, err, retry_in_s: room ? RETRY_AFTER_MS / 1000 : null },
        'sla scheduler could not process a complaint; the others go on',
      );
      return room ? 'set_aside' : 'lost';
    }
  }

  /**
   * Announces what a window owes now — each warning fraction passed, then the breach — and on a breach escalates
   * (below the last level), all in one transaction. Acts only if the complaint is still at the level and alert time
   * we read, and records the fractions announced on the row it locked: a lost race, a second scheduler or a restart
   * announces nothing twice.
   */
  private async alertWindow(escalatrId: string, level: number, seenAlertAt: number): Promise<Outcome> {
    return transact(this.ctx, async (work) => {
      const c = await lockComplaint(this.ctx, work.tx, escalatrId);
      const stillDue = c && c.level === level && c.sla_alert_at === seenAlertAt && c.sla_due_at !== null && isActive(c);
      if (!stillDue || c.stage === 'Closure') return 'lost';
      const { calendar } = await companyTimers(work.tx, c.company_id);
      const owed = windowAlerts(calendar, c, work.now);
      const announce = (name: 'complaint.sla_warning' | 'complaint.sla_breached', fraction: number) =>
        emitEvent(this.ctx, work, {
          companyId: c.company_id,
          name,
          complaintId: c.escalatr_id,
          data: { ...eventBase(c), level: levelName(c.level), due_at: iso(c.sla_due_at!), fraction },
        });
      for (const fraction of owed.warnings) await announce('complaint.sla_warning', fraction);
      if (owed.breached) {
        await announce('complaint.sla_breached', 1);
        await decide(work.tx, c, 'breached', work.now);
      }
      const alerted = owed.breached ? 1 : (owed.warnings.at(-1) ?? c.sla_alerted);
      if (owed.breached && c.level < MAX_LEVEL) {
        await applyBreachRule(this.ctx, work, await this.escalate(work, c, 'auto_sla'), c.level);
        return 'escalated';
      }
      if (owed.breached) {
        this.log?.info({ escalatr_id: c.escalatr_id, level: levelName(c.level) }, 'sla breached');
        await applyBreachRule(this.ctx, work, c, c.level);
      }
      await work.tx
        .updateTable('complaints')
        .set({ sla_alert_at: owed.next, sla_alerted: alerted })
        .where('escalatr_id', '=', c.escalatr_id)
        .execute();
      return 'settled';
    });
  }

  /**
   * Settles one action draft whose wait passed: marks it (whoever marks it owns it) and, if no staff response came
   * since it was drafted, escalates the complaint one level. The complaint is locked first, in the same order as
   * the consumer's steps (complaint, then draft), so the two cannot deadlock.
   */
  private async settleActionWait(draftId: string, escalatrId: string, draftedAt: number): Promise<Outcome> {
    return transact(this.ctx, async (work) => {
      const c = await lockComplaint(this.ctx, work.tx, escalatrId);
      if (!c) return 'lost';
      const marked = await work.tx
        .updateTable('action_drafts')
        .set({ wait_escalated_at: work.now })
        .where('id', '=', draftId)
        .where('wait_escalated_at', 'is', null)
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) return 'lost';
      const answered = c.last_staff_response_at !== null && c.last_staff_response_at >= draftedAt;
      if (answered || !isActive(c) || c.level >= MAX_LEVEL) return 'settled';
      await this.escalate(work, c, 'auto_action_wait');
      return 'escalated';
    });
  }

  private async escalate(work: Work, c: ComplaintRow, trigger: EscalationTrigger): Promise<ComplaintRow> {
    const next = await applyChange(this.ctx, work, c, await escalation(work, c, trigger));
    this.log?.info(
      { escalatr_id: c.escalatr_id, to_level: levelName(next.level), trigger },
      'complaint escalated automatically',
    );
    return next;
  }
}

/** The keys still set aside at `now`; the rest are forgotten, so they are read again. */
function stillAside(aside: Map<string, number>, now: number): string[] {
  for (const [key, until] of aside) if (until <= now) aside.delete(key);
  return [...aside.keys()];
}

function summarise(seen: number, outcomes: Outcome[]) {
  const escalated = outcomes.filter((o) => o === 'escalated').length;
  return { seen, escalated, changed: escalated + outcomes.filter((o) => o === 'settled' || o === 'set_aside').length };
}
