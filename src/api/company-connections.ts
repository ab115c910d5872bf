import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { CompanyPlaces } from './company-places.js';

/**
 * Connections kept open for one company's next requests. A connection is kept after its answer for the keep-alive
 * timeout (72 s), and the process serves at most ESCALATR_MAX_CONNECTIONS: a company sending one request every
 * minute on each of thousands of connections held them all, and every other company's connections were refused.
 * A connection counts for the company whose request it carried last; once the company has `perCompany`, its
 * answers on further connections end them.
 */
class CompanyConnections {
  private readonly places: CompanyPlaces;
  private readonly held = new WeakMap<Socket, { companyId: string; release: () => void }>();

  constructor(perCompany: number) {
    this.places = new CompanyPlaces(perCompany);
  }

  /** Whether the connection may stay open for the company after this answer. */
  keep(companyId: string, socket: Socket): boolean {
    const now = this.held.get(socket);
    if (now?.companyId === companyId) return true;
    now?.release();
    this.held.delete(socket);
    const release = this.places.take(companyId);
    if (!release) return false;
    this.held.set(socket, { companyId, release });
    socket.once('close', release);
    return true;
  }
}

/** Ends a company's further connections with their answer once it holds `perCompany`. */
export function installCompanyConnections(app: FastifyInstance, perCompany: number): void {
  if (perCompany <= 0) return;
  const connections = new CompanyConnections(perCompany);
  app.addHook('preParsing', async (request, reply) => {
    const companyId = request.company?.companyId;
    const socket = request.raw.socket as Socket | undefined;
    if (companyId && socket && !connections.keep(companyId, socket)) reply.header('Connection', 'close');
  });
}
