import { AppError, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Db, Tx } from '../storage/db.js';
import type { CompaniesTable } from '../storage/schema.js';
import { transact, type DomainContext } from './context.js';
import { wakeAtCommit } from '../queue/wakeup.js';
import { PLANS, type Plan } from './plans.js';
import { historyClass } from './retention.js';

export type Company = Pick<CompaniesTable, 'id' | 'name' | 'code' | 'plan' | 'created_at'>;

export function checkCompanyCode(code: string): string | null {
  return /^[A-Z]{2,8}$/.test(code) ? null : 'code must be 2–8 uppercase letters (A–Z)';
}

export async function createCompany(
  ctx: DomainContext,
  input: { name: string; code: string; plan: Plan },
): Promise<Company> {
  const name = input.name.trim();
  if (!name || name.length > 200) throw new AppError('validation_failed', 'name must be 1–200 characters');
  const codeError = checkCompanyCode(input.code);
  if (codeError) throw new AppError('validation_failed', codeError);
  if (!PLANS.includes(input.plan)) throw new AppError('validation_failed', `plan must be one of ${PLANS.join(', ')}`);
  const row = { id: newId('co'), name, code: input.code, plan: input.plan, created_at: ctx.clock.now() };
  try {
    await ctx.store.db
      .insertInto('companies')
      .values({
        ...row,
        sla_windows: null,
        action_wait_s: null,
        complaint_seq: 0,
        event_seq: 0,
        retention_days: null,
        retention_minutes: null,
        // Its plan's window's class from the first delivery on, not from the retention step's next run.
        history_class: historyClass({ plan: input.plan, retention_days: null, retention_minutes: null }),
        feed_start_seq: 0,
      })
      .execute();
  } catch (err) {
    if (ctx.store.profile.isUniqueViolation(err))
      throw new AppError('already_exists', `a company with code ${input.code} exists`);
    throw err;
  }
  return row;
}

export async function findCompanyByCode(db: Db, code: string): Promise<Company | undefined> {
  return db
    .selectFrom('companies')
    .select(['id', 'name', 'code', 'plan', 'created_at'])
    .where('code', '=', code)
    .executeTakeFirst();
}

export async function getCompanyByCode(db: Db, code: string): Promise<Company> {
  const company = await findCompanyByCode(db, code);
  if (!company) throw notFound(`company ${code}`);
  return company;
}

export async function getCompany(db: Db, id: string): Promise<Company> {
  const company = await db
    .selectFrom('companies')
    .select(['id', 'name', 'code', 'plan', 'created_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!company) throw notFound('company');
  return company;
}

export async function setCompanyPlan(ctx: DomainContext, code: string, plan: Plan): Promise<Company> {
  if (!PLANS.includes(plan)) throw new AppError('validation_failed', `plan must be one of ${PLANS.join(', ')}`);
  // Every other process drops the keys it verified once it hears of the commit (the 'credentials' wake-up).
  await transact(ctx, async (work) => {
    const current = await work.tx
      .selectFrom('companies')
      .select(['retention_days', 'retention_minutes'])
      .where('code', '=', code)
      .executeTakeFirst();
    if (!current) throw notFound(`company ${code}`);
    // A company on its plan's default window changes class with the plan, for the rows written from now on.
    await work.tx
      .updateTable('companies')
      .set({ plan, history_class: historyClass({ ...current, plan }) })
      .where('code', '=', code)
      .execute();
    await wakeAtCommit(ctx.store, work, 'credentials');
  });
  const company = await getCompanyByCode(ctx.store.db, code);
  // A lower plan refuses the company's keys: they are read again on their next request here.
  ctx.apiKeys.forgetCompany(company.id);
  return company;
}

/**
 * Locks the company's row for the rest of the transaction on PostgreSQL, so writers of one company's capped or
 * one-at-a-time state (endpoints, automations, API keys, feedback per minute, a bulk recover) take turns: two at once
 * cannot both count below a limit. SQLite's write transactions already run one at a time.
 */
export async function lockCompanyRow(ctx: DomainContext, tx: Tx, companyId: string): Promise<void> {
  if (ctx.store.profile.rowLocks)
    await tx.selectFrom('companies').select('id').where('id', '=', companyId).forUpdate().execute();
}
