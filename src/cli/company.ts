import type { Command } from 'commander';
import { createCompany, setCompanyPlan, type Company } from '../domain/companies.js';
import type { Plan } from '../domain/plans.js';
import { setRetentionByCode } from '../domain/retention.js';
import { options } from './options.js';
import { printJson, printLines, withRuntime } from './runtime.js';
import { iso } from '../clock.js';

const companyJson = (c: Company) => ({
  id: c.id,
  code: c.code,
  name: c.name,
  plan: c.plan,
  created_at: iso(c.created_at),
});

/** `company create`, `company set-plan` and `company set-retention`. */
export function registerCompanyCommands(program: Command): void {
  const company = program.command('company').description('create companies, change their plan and retention');

  company
    .command('create')
    .description('create a company (a tenant)')
    .addOption(options.companyName())
    .addOption(options.code())
    .addOption(options.plan())
    .addOption(options.json())
    .action(async (o: { name: string; code: string; plan: Plan; json?: boolean }) => {
      const created = await withRuntime(({ ctx }) => createCompany(ctx, { name: o.name, code: o.code, plan: o.plan }));
      if (o.json) return printJson(companyJson(created));
      printLines(`Created company ${created.code} (${created.name}) on the ${created.plan} plan.`);
    });

  company
    .command('set-plan')
    .description("change a company's plan (API keys need professional or enterprise)")
    .addOption(options.code())
    .addOption(options.plan())
    .addOption(options.json())
    .action(async (o: { code: string; plan: Plan; json?: boolean }) => {
      const updated = await withRuntime(({ ctx }) => setCompanyPlan(ctx, o.code, o.plan));
      if (o.json) return printJson(companyJson(updated));
      printLines(`Company ${updated.code} is now on the ${updated.plan} plan.`);
    });

  company
    .command('set-retention')
    .description(
      'set how long delivery history, the event feed and Shield feedback are kept (older rows are removed): ' +
        'whole days, or minutes for a window shorter than a day',
    )
    .addOption(options.code())
    .addOption(options.retentionDays())
    .addOption(options.retentionMinutes())
    .addOption(options.json())
    .action(async function (this: Command, o: { code: string; days?: number; minutes?: number; json?: boolean }) {
      if (o.days === undefined && o.minutes === undefined)
        this.error("error: required option '--days <days>' or '--minutes <minutes>' not specified");
      const window = o.minutes !== undefined ? { minutes: o.minutes } : { days: o.days! };
      const r = await withRuntime(({ ctx }) => setRetentionByCode(ctx, o.code, window));
      if (o.json)
        return printJson({
          code: r.code,
          days: r.days,
          ...(r.minutes !== null ? { minutes: r.minutes } : {}),
          plan: r.plan,
          plan_days: r.default_days,
        });
      const kept = r.minutes !== null ? `${r.minutes} minutes` : `${r.days} days`;
      printLines(
        `Company ${r.code} keeps history for ${kept} (its ${r.plan} plan's default is ${r.default_days} days).`,
      );
    });
}
