import type { Command } from 'commander';
import { createApiKey, listApiKeys, revokeApiKey, type Scope } from '../domain/api-keys.js';
import { getCompanyByCode } from '../domain/companies.js';
import { options } from './options.js';
import { printJson, printLines, withRuntime } from './runtime.js';

/** `apikey create | list | revoke` for the Platform API v1. */
export function registerApiKeyCommands(program: Command): void {
  const apikey = program.command('apikey').description('manage Platform API keys (professional and enterprise plans)');

  apikey
    .command('create')
    .description('create an API key and print it in full (the only time it is shown)')
    .addOption(options.company())
    .addOption(options.keyName())
    .addOption(options.scope())
    .addOption(options.json())
    .action(async (o: { company: string; name: string; scope: Scope; json?: boolean }) => {
      const { key, apiKey } = await withRuntime(async ({ ctx }) => {
        const company = await getCompanyByCode(ctx.store.db, o.company);
        return createApiKey(ctx, { companyId: company.id, name: o.name, scope: o.scope });
      });
      if (o.json) return printJson({ ...apiKey, company: o.company, key });
      printLines(
        `Created ${apiKey.scope} API key "${apiKey.name}" (${apiKey.id}) for ${o.company}:`,
        '',
        `  ${key}`,
        '',
        'Copy it now: it is not stored and will not be shown again.',
      );
    });

  apikey
    .command('list')
    .description("list a company's API keys (prefixes only, never the keys)")
    .addOption(options.company())
    .addOption(options.json())
    .action(async (o: { company: string; json?: boolean }) => {
      const keys = await withRuntime(async ({ store }) =>
        listApiKeys(store.db, (await getCompanyByCode(store.db, o.company)).id),
      );
      if (o.json) return printJson(keys);
      if (keys.length === 0) return printLines(`${o.company} has no API keys.`);
      printLines(
        ...keys.map((k) =>
          [
            k.id,
            k.prefix + '…',
            k.scope.padEnd(5),
            k.revoked_at ? `revoked ${k.revoked_at}` : 'active',
            `created ${k.created_at}`,
            `last used ${k.last_used_at ?? 'never'}`,
            `"${k.name}"`,
          ].join('  '),
        ),
      );
    });

  apikey
    .command('revoke')
    .description('revoke an API key: requests with it get 401 from now on')
    .addOption(options.company())
    .addOption(options.keyId())
    .action(async (o: { company: string; id: string }) => {
      await withRuntime(async ({ ctx }) =>
        revokeApiKey(ctx, (await getCompanyByCode(ctx.store.db, o.company)).id, o.id),
      );
      printLines(`Revoked API key ${o.id}.`);
    });
}
