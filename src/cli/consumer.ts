import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { createConsumerWithToken } from '../domain/consumers.js';
import { eraseConsumer } from '../shield/erasure.js';
import { options } from './options.js';
import { printJson, printLines, withRuntime } from './runtime.js';

/**
 * `consumer create`: a consumer (or the existing one with that email) and a new consumer token.
 * `consumer erase`: the consumer's personal data removed everywhere it was copied, with an audit entry.
 */
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

  consumer
    .command('erase')
    .description("erase a consumer's personal data everywhere it was copied (complaints stay, without it)")
    .addOption(options.email())
    .option(
      '--vacuum',
      'SQLite: rebuild the database file afterwards, so no unused space keeps old copies (writes wait meanwhile)',
    )
    .addOption(options.json())
    .action(async (o: { email: string; vacuum?: boolean; json?: boolean }) => {
      const { result, rebuilt } = await withRuntime(async ({ ctx, store }) => {
        const result = await eraseConsumer(ctx, { email: o.email, actor: `cli:${operatingUser()}` });
        if (!o.vacuum) return { result, rebuilt: null };
        if (!store.profile.rebuildFile) return { result, rebuilt: false };
        await store.profile.rebuildFile(store.db);
        return { result, rebuilt: true };
      });
      if (rebuilt === false) {
        process.stderr.write(
          'escalatr: --vacuum does nothing on PostgreSQL: old row versions go when VACUUM reuses their space ' +
            '(VACUUM FULL rewrites the tables at once; see the README).\n',
        );
      }
      if (o.json) return printJson({ ...result, ...(rebuilt === null ? {} : { file_rebuilt: rebuilt }) });
      if (!result.found) {
        return printLines(
          `Nothing of ${o.email} is stored (unknown, or erased already). Audit entry ${result.audit_id}.`,
        );
      }
      printLines(
        `Erased ${o.email}: consumer ${result.consumer_removed ? 'removed' : 'not on record'}, ` +
          `${result.complaints_redacted} complaint(s), ${result.messages_redacted} message(s), ` +
          `${result.evidence_removed} evidence file(s), ${result.events_redacted} event(s), ` +
          `${result.feedback_records_redacted} Shield record(s), ${result.attempt_excerpts_cleared} attempt excerpt(s). ` +
          `Audit entry ${result.audit_id}.`,
      );
    });
}

/** Who ran the command, for the audit log: the operating-system account (not personal data of the erased). */
function operatingUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
