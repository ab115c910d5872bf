import { runCli } from './program.js';

// The exit code is set rather than forced with process.exit(), so pending output is flushed first; a serving
// process stays up on its open server.
process.exitCode = await runCli(process.argv);
