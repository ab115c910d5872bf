import type { Command } from 'commander';
import { createConsumerWithToken } from '../domain/consumers.js';
import { options } from './options.js';
import { printJson, printLines, withRuntime } from './runtime.js';

/** `consumer create`: a consumer (or the existing one with that email) and a new consumer token. */
export function registerConsumerCommands(program: Command): void {
  const consumer = program.command('consumer').description('manage consumers of the Consumer API');

  consumer
    .command('create')
    .description('create a consumer (or reuse the one with this email) and print a new consumer token')
    .addOption(options.email())
    .addOption(options.personName())
    .addOption(options.json())
    .action(async (o: { email: string; name?: string; json?: boolean }) => {
      const { consumer: c, token } = await withRuntime(({ ctx }) =>
        createConsumerWithToken(ctx, { email: o.email, name: o.name ?? null }),
      );
      if (o.json) return printJson({ id: c.id, email: c.email, name: c.name, token });
      printLines(
        `Consumer ${c.email} (${c.id}). Consumer token:`,
        '',
        `  ${token}`,
        '',
        'Use it as "Authorization: Bearer <token>" on /api/consumer/v1. It is shown only once.',
      );
    });
}
