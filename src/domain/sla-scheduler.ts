import type { Logger } from 'pino';
import { transact, type DomainContext } from './context.js';
import { eventBase } from './complaints.js';
import { emitEvent } from './events.js';
import { levelName, MAX_LEVEL } from './lifecycle.js';
import { companyTimers, slaDueAt } from './sla.js';
import type { EscalationTrigger } from './complaint-steps.js';

const BATCH = 100;

/**
 * Escalates complaints whose response window passed with no staff response (`auto_sla`) and those whose drafted
 * action went unanswered past its wait (`auto_action_wait`). Safe with many schedulers on one PostgreSQL: rows are
 * claimed with SKIP LOCKED and every escalation is conditional on the state it read, so only one process acts.
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
    this.timer = setInterval(() => void this.tick().catch((err) => this.log?.error({ err }, 'sla scheduler tick failed')), this.intervalMs);
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
      for (let round = 0; round < 50; round++) {
        const a = await this.escalateOverdue();
        const b = await this.escalateUnansweredActions();
        escalated += a.escalated + b.escalated;
        if (a.seen < BATCH && b.seen < BATCH) break;
      }
      return escalated;
    })().finally(() => (this.running = null));
    return this.running;
  }

  private async escalateOverdue(): Promise<{ seen: number; escalated: number }> {
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
    let escalated = 0;
    for (const c of due) if (await this.escalateIf(c.escalatr_id, c.level, c.sla_due_at, 'auto_sla')) escalated++;
    return { seen: due.length, escalated };
  }

  private async escalateUnansweredActions(): Promise<{ seen: number; escalated: number }> {
    const now = this.ctx.clock.now();
    const drafts = await this.ctx.store.db
      .selectFrom('action_drafts')
      .innerJoin('complaints', 'complaints.escalatr_id', 'action_drafts.complaint_id')
      .select(['action_drafts.id', 'action_drafts.created_at', 'complaints.escalatr_id', 'complaints.level', 'complaints.sla_due_at', 'complaints.last_staff_response_at', 'complaints.status'])
      .where('action_drafts.respond_by', '<=', now)
      .where('action_drafts.wait_escalated_at', 'is', null)
      .orderBy('action_drafts.respond_by')
      .limit(BATCH)
      .execute();
    let escalated = 0;
    for (const d of drafts) {
      const answered = d.last_staff_response_at !== null && d.last_staff_response_at >= d.created_at;
      const eligible = !answered && d.level < MAX_LEVEL && (d.status === 'Open' || d.status === 'Escalated');
      const marked = await this.ctx.store.db
        .updateTable('action_drafts')
        .set({ wait_escalated_at: now })
        .where('id', '=', d.id)
        .where('wait_escalated_at', 'is', null)
        .executeTakeFirst();
      // Whoever marks the draft owns its escalation; another scheduler that read it too does nothing.
      if (Number(marked.numUpdatedRows) === 1 && eligible && (await this.escalateIf(d.escalatr_id, d.level, d.sla_due_at, 'auto_action_wait'))) escalated++;
    }
    return { seen: drafts.length, escalated };
  }

  /** Escalates only if the complaint is still at the level and window we read: a lost race changes nothing. */
  private async escalateIf(escalatrId: string, level: number, seenDue: number | null, trigger: EscalationTrigger): Promise<boolean> {
    return transact(this.ctx, async (work) => {
      const row = await work.tx.selectFrom('complaints').selectAll().where('escalatr_id', '=', escalatrId).executeTakeFirst();
      if (!row) return false;
      const timers = await companyTimers(work.tx, row.company_id);
      const next = level + 1;
      let q = work.tx
        .updateTable('complaints')
        .set({ level: next, status: 'Escalated', stage: 'Escalation', sla_due_at: slaDueAt(timers, next, work.now), updated_at: work.now })
        .where('escalatr_id', '=', escalatrId)
        .where('level', '=', level)
        .where('status', 'in', ['Open', 'Escalated']);
      q = seenDue === null ? q.where('sla_due_at', 'is', null) : q.where('sla_due_at', '=', seenDue);
      const result = await q.executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await emitEvent(this.ctx, work, {
        companyId: row.company_id,
        name: 'complaint.escalated',
        complaintId: escalatrId,
        data: { ...eventBase({ escalatr_id: escalatrId, status: 'Escalated', level: next }), to_level: levelName(next), trigger },
      });
      this.log?.info({ escalatr_id: escalatrId, to_level: levelName(next), trigger }, 'complaint escalated automatically');
      return true;
    });
  }
}
