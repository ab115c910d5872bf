import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

let profiler: Session | null = null;

/**
 * The `profilePhase` call of a bench child (with --profile): a CPU profile of the measured phase alone, since the
 * whole-process profile mixes in start-up and seeding. `{start: true}` starts it; `{file}` stops it and writes it there.
 */
export async function profilePhase(args: { start?: boolean; file?: string }): Promise<string | null> {
  if (args.start) {
    profiler ??= new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    return null;
  }
  if (!profiler || !args.file) return null;
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = null;
  writeFileSync(args.file, JSON.stringify(profile));
  return args.file;
}
