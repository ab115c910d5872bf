import type { Command } from 'commander';
import { getCompanyByCode } from '../domain/companies.js';
import { createUser, type Role } from '../domain/users.js';
import { options } from './options.js';
import { printJson, printLines, withRuntime } from './runtime.js';
import { iso } from '../clock.js';

/** `user create`: a staff login for the dashboard. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage staff users');

  user
    .command('create')
    .description('create a staff user who can log in to the dashboard')
    .addOption(options.company())
    .addOption(options.email())
    .addOption(options.password())
    .addOption(options.role())
    .addOption(options.json())
    .action(async (o: { company: string; email: string; password: string; role: Role; json?: boolean }) => {
      const created = await withRuntime(async ({ ctx }) => {
        const company = await getCompanyByCode(ctx.store.db, o.company);
        return createUser(ctx, { companyId: company.id, email: o.email, password: o.password, role: o.role });
      });
      if (o.json) {
        return printJson({
          id: created.id,
          company: o.company,
          email: created.email,
          role: created.role,
          created_at: iso(created.created_at),
        });
      }
      printLines(`Created ${created.role} ${created.email} in ${o.company}.`);
    });
}
