/**
 * The entry point of a transformation process (see transform-runner.ts): it evaluates one expression at a time, as
 * its parent hands them over, and says when it is ready (its modules loaded), so the parent times evaluations and
 * not the start of the process.
 */
import { runJsonata, type JsonataOutcome } from './transform-jsonata.js';

export interface TransformRequest {
  id: number;
  expression: string;
  storedBody: string;
}

export type TransformReply = { ready: true } | { id: number; outcome: JsonataOutcome };

const reply = (message: TransformReply) => process.send!(message);

process.on('message', (request: TransformRequest) => {
  void runJsonata(request.expression, request.storedBody).then((outcome) => reply({ id: request.id, outcome }));
});
// The parent went away: nothing more will be asked.
process.on('disconnect', () => process.exit(0));
reply({ ready: true });
