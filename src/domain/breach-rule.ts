import { sql } from 'kysely';
import { AppError } from '../errors.js';
import type { Db } from '../storage/db.js';
import { applyChange } from './complaint-changes.js';
import type { ComplaintRow } from './complaints.js';
import type { DomainContext, Work } from './context.js';
import { isActive, levelName } from './lifecycle.js';
import { normaliseEmail } from './users.js';

/**
 * What a company does with a complaint whose response window was breached, besides the breach event and the
 * escalation: give it to someone else (a named staff user, or the agent or admin holding the fewest open complaints),
 * and/or flag it so the dashboard shows it apart. Owners and admins set it; the scheduler applies it in the
 * transaction that announces the breach, and each change is an event of the complaint's timeline.
 */
type BreachReassign = 'none' | 'user' | 'least_loaded';

export interface BreachRule {
  reassign: BreachReassign;
  /** The staff user's email when `reassign` is `user`; null otherwise. */
  assignee: string | null;
  flag: boolean;
}

const NO_RULE: BreachRule = { reassign: 'none', assignee: null, flag: false };

/** Who the breach rule names as actor in the events it writes. */
const BREACH_RULE_ACTOR = 'breach_rule';

export async function getBreachRule(db: Db, companyId: string): Promise<BreachRule> {
  const row = await db.selectFrom('companies').select('breach_rule').where('id', '=', companyId).executeTakeFirst();
  return row?.breach_rule ? { ...NO_RULE, ...(JSON.parse(row.breach_rule) as BreachRule) } : NO_RULE;
}

/** Replaces the rule. A named assignee must be one of the company's staff who may work complaints (not a viewer). */
export async function setBreachRule(ctx: DomainContext, companyId: string, input: BreachRule): Promise<BreachRule> {
  let assignee: string | null = null;
  if (input.reassign === 'user') {
    const email = normaliseEmail(input.assignee ?? '');
    const user = email ? await staffUser(ctx.store.db, companyId, email) : undefined;
    if (!user)
      throw new AppError('assignee_not_found', 'assignee is not the email of a staff user of your company', {
        field: 'assignee',
      });
    if (user.role === 'viewer')
      throw new AppError('assignee_cannot_work', `${user.email} is a viewer; viewers cannot work complaints`, {
        field: 'assignee',
      });
    assignee = user.email;
  } else if (input.assignee) {
    throw new AppError('validation_failed', 'assignee is only given when reassign is "user"', { field: 'assignee' });
  }
  const rule: BreachRule = { reassign: input.reassign, assignee, flag: input.flag };
  const stored = rule.reassign === 'none' && !rule.flag ? null : JSON.stringify(rule);
  await ctx.store.db.updateTable('companies').set({ breach_rule: stored }).where('id', '=', companyId).execute();
  return rule;
}

const staffUser = (db: Db, companyId: string, email: string) =>
  db
    .selectFrom('users')
    .select(['email', 'role'])
    .where('company_id', '=', companyId)
    .where('email', '=', email)
    .executeTakeFirst();

/**
 * The agent or admin holding the fewest open complaints (ties: by email), other than the current holder; undefined
 * when the company has no one else.
 */
async function leastLoaded(db: Db, companyId: string, holder: string | null): Promise<string | undefined> {
  const { rows } = await sql<{ email: string }>`
    select u.email as email from users u
    where u.company_id = ${companyId} and u.role in ('agent', 'admin') and u.email <> ${holder ?? ''}
    order by (select count(*) from complaints c
              where c.company_id = u.company_id and c.claimed_by = u.email and c.status in ('Open', 'Escalated')),
             u.email
    limit 1`.execute(db);
  return rows[0]?.email;
}

/**
 * Applies the company's rule to a complaint whose window was just breached (after its escalation, if any), in the
 * scheduler's transaction. A named assignee who has since left or become a viewer, or who already holds the
 * complaint, is skipped; so is a flag already set. Returns the complaint as it now is.
 */
export async function applyBreachRule(
  ctx: DomainContext,
  work: Work,
  c: ComplaintRow,
  breachedLevel: number,
): Promise<ComplaintRow> {
  const rule = await getBreachRule(work.tx, c.company_id);
  if (!isActive(c)) return c;
  let to: string | undefined;
  if (rule.reassign === 'user' && rule.assignee) {
    const user = await staffUser(work.tx, c.company_id, rule.assignee);
    if (user && user.role !== 'viewer') to = user.email;
  } else if (rule.reassign === 'least_loaded') {
    to = await leastLoaded(work.tx, c.company_id, c.claimed_by);
  }
  let next = c;
  if (to && to !== c.claimed_by) {
    next = await applyChange(ctx, work, next, {
      patch: { claimed_by: to },
      event: 'complaint.assigned',
      data: { assigned_to: to, assigned_by: BREACH_RULE_ACTOR, previous_assignee: c.claimed_by },
    });
  }
  if (rule.flag && next.flagged_at === null) {
    next = await applyChange(ctx, work, next, {
      patch: { flagged_at: work.now },
      event: 'complaint.flagged',
      data: { flagged_by: BREACH_RULE_ACTOR, reason: 'sla_breached', level: levelName(breachedLevel) },
    });
  }
  return next;
}
