import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { AppError } from '../errors.js';
import { registerApiKeyCommands } from './apikey.js';
import { registerBackupCommands } from './backup.js';
import { registerCompanyCommands } from './company.js';
import { registerConsumerCommands } from './consumer.js';
import { registerDemoCommand } from './demo.js';
import { registerServeCommands } from './serve.js';
import { registerShieldCommands } from './shield.js';
import { registerUserCommands } from './user.js';
import { registerRotateMasterKey } from './rotate-master-key.js';
import { registerListenCommand } from './listen.js';

/** Exit codes: 0 done, 1 refused (by the domain or the configuration) or failed, 2 wrong usage. */
const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function buildProgram(errors: (text: string) => void): Command {
  const program = new Command('escalatr')
    .description('Escalatr: complaint escalation with a REST API, an event feed and signed webhooks')
    .version('0.1.0')
    // Commander throws instead of exiting, so one place below picks the exit code; settings are inherited by
    // every command registered after this line.
    .exitOverride()
    .configureOutput({ writeErr: errors, outputError: (message, write) => write(`escalatr: ${message}`) });
  registerServeCommands(program);
  registerDemoCommand(program);
  registerCompanyCommands(program);
  registerUserCommands(program);
  registerApiKeyCommands(program);
  registerConsumerCommands(program);
  registerShieldCommands(program);
  registerRotateMasterKey(program);
  registerBackupCommands(program);
  registerListenCommand(program);
  return program;
}

/** One line on stderr, never a stack trace (unless LOG_LEVEL asks for debug output). */
function report(err: unknown, errors: (text: string) => void): number {
  if (err instanceof CommanderError) {
    // Commander has printed the message (or the help) already.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof ConfigError) {
    // The message starts with the variable's name: "PORT: must be a whole number…".
    errors(`escalatr: ${err.message}\n`);
    return EXIT.failed;
  }
  if (err instanceof AppError) {
    errors(`escalatr: ${err.code}: ${err.message}\n`);
    return EXIT.failed;
  }
  const message = err instanceof Error ? err.message : String(err);
  errors(`escalatr: ${message.split('\n')[0]}\n`);
  if (['debug', 'trace'].includes(process.env.LOG_LEVEL ?? '') && err instanceof Error) errors(`${err.stack}\n`);
  return EXIT.failed;
}

/** Runs the CLI on `argv` (as in process.argv) and returns the exit code; tests call it in-process too. */
export async function runCli(
  argv: string[],
  errors: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
  try {
    await buildProgram(errors).parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    return report(err, errors);
  }
}
