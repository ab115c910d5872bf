import type { Logger } from 'pino';
import { applyChange, escalation, lockComplaint, type EscalationTrigger } from './complaint-changes.js';
import type { ComplaintRow } from './complaints.js';
import { transact, type DomainContext, type Work } from './context.js';
import { isActive, levelName, MAX_LEVEL } from './lifecycle.js';

const BATCH = 100;
const MAX_ROUNDS = 50;

type Outcome = 'escalated' | 'settled' | 'lost';

/**
 * Escalates complaints whose response window passed with no staff response (`auto_sla`) and those whose drafted
 * action went unanswered past its wait (`auto_action_wait`), with the same escalation change a consumer's step
 * applies. Safe with many schedulers on one database: each escalation locks the complaint and re-checks the state
 * that was read (a concurrent writer is waited for, then seen), and an action draft is settled in the same
 * transaction as its escalation, so exactly one scheduler acts on each and a crash between the two is impossible.
 */
export class SlaScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly ctx: DomainContext,
    private readonly log?: Logger,
    private readonly intervalMs = 5_000,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => void this.tick().catch((err) => this.log?.error({ err }, 'sla scheduler tick failed')),
      this.intervalMs,
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One pass over everything due now; returns how many complaints were escalated. Tests call it directly. */
  async tick(): Promise<number> {
    if (this.running) return this.running;
    this.running = (async () => {
      let escalated = 0;
      // Bounded, so one tick cannot spin forever on rows it keeps losing races for.
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const a = await this.escalateOverdue();
        const b = await this.escalateUnansweredActions();
        escalated += a.escalated + b.escalated;
        const fullBatch = a.seen === BATCH || b.seen === BATCH;
        // A round that changed nothing would only read the same rows again.
        if (!fullBatch || a.changed + b.changed === 0) break;
      }
      return escalated;
    })().finally(() => (this.running = null));
    return this.running;
  }

  private async escalateOverdue() {
    const now = this.ctx.clock.now();
    const due = await this.ctx.store.db
      .selectFrom('complaints')
      .select(['escalatr_id', 'level', 'sla_due_at'])
      .where('sla_due_at', '<=', now)
      .where('level', '<', MAX_LEVEL)
      .where('status', 'in', ['Open', 'Escalated'])
      .where('stage', '!=', 'Closure')
      .orderBy('sla_due_at')
      .limit(BATCH)
      .execute();
    const outcomes: Outcome[] = [];
    for (const c of due)
      outcomes.push(
        await this.attempt(c.escalatr_id, () => this.escalateOverdueOne(c.escalatr_id, c.level, c.sla_due_at!)),
      );
    return summarise(due.length, outcomes);
  }

  private async escalateUnansweredActions() {
    const now = this.ctx.clock.now();
    const drafts = await this.ctx.store.db
      .selectFrom('action_drafts')
      .select(['id', 'complaint_id', 'created_at'])
      .where('respond_by', '<=', now)
      .where('wait_escalated_at', 'is', null)
      .orderBy('respond_by')
      .limit(BATCH)
      .execute();
    const outcomes: Outcome[] = [];
    for (const d of drafts)
      outcomes.push(
        await this.attempt(d.complaint_id, () => this.settleActionWait(d.id, d.complaint_id, d.created_at)),
      );
    return summarise(drafts.length, outcomes);
  }

  /**
   * One complaint's escalation. If the store is busy (on SQLite, another handle holds the write lock and this
   * transaction's snapshot is stale), the complaint is left for the next tick rather than failing the whole pass.
   */
  private async attempt(escalatrId: string, step: () => Promise<Outcome>): Promise<Outcome> {
    try {
      return await step();
    } catch (err) {
      if (!this.ctx.store.profile.isUnavailable(err)) throw err;
      this.log?.warn({ escalatr_id: escalatrId, err }, 'sla scheduler skipped a complaint: store busy');
      return 'lost';
    }
  }

  /** Escalates only if the complaint is still at the level and window we read: a lost race changes nothing. */
  private async escalateOverdueOne(escalatrId: string, level: number, seenDue: number): Promise<Outcome> {
    return transact(this.ctx, async (work) => {
      const c = await lockComplaint(this.ctx, work.tx, escalatrId);
      const stillDue = c && c.level === level && c.sla_due_at === seenDue && isActive(c) && c.stage !== 'Closure';
      if (!stillDue) return 'lost';
      await this.escalate(work, c, 'auto_sla');
      return 'escalated';
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

  private async escalate(work: Work, c: ComplaintRow, trigger: EscalationTrigger): Promise<void> {
    const next = await applyChange(this.ctx, work, c, await escalation(work, c, trigger));
    this.log?.info(
      { escalatr_id: c.escalatr_id, to_level: levelName(next.level), trigger },
      'complaint escalated automatically',
    );
  }
}

function summarise(seen: number, outcomes: Outcome[]) {
  const escalated = outcomes.filter((o) => o === 'escalated').length;
  return { seen, escalated, changed: escalated + outcomes.filter((o) => o === 'settled').length };
}
