import type { Command } from 'commander';
import { options } from './options.js';
import { printJson, printLines, withRuntime } from './runtime.js';
import { demoText, seedDemo } from '../runtime/demo-seed.js';

/** `demo`: the demo company VOLT, its owner, a consumer, an API key and sample complaints. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('create the demo company VOLT with an owner, a consumer, an API key and sample complaints')
    .addOption(options.json())
    .action(async (o: { json?: boolean }) => {
      const { result, baseUrl } = await withRuntime(async ({ ctx, config }) => ({
        result: await seedDemo(ctx),
        baseUrl: config.publicUrl,
      }));
      if (o.json) {
        // Said on stderr so stdout stays the JSON document.
        if (!result.created)
          process.stderr.write(
            'escalatr: the demo company VOLT exists already; the owner password is not shown again\n',
          );
        return printJson(result.credentials);
      }
      printLines(...demoText(result, baseUrl));
    });
}
