import type { ReadStore } from '../storage/read-store.js';
import type { ApiApp } from './deps.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A company that writes reads its write: after any write request of a company's key or session, its reads stay on
 * the primary until the read replica has replayed past it (src/storage/read-store.ts). Noted as the answer is about
 * to go out — after the handler's transaction committed, before the client can send its next request.
 */
export function registerReadYourWrites(app: ApiApp, reads: ReadStore): void {
  if (!reads.hasReplica) return;
  app.addHook('onSend', async (request, _reply, payload) => {
    if (request.company && WRITES.has(request.method)) reads.noteWrite(request.company.companyId);
    return payload;
  });
}
