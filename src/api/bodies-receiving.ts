import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Gauge } from 'prom-client';
import { overRate } from '../errors.js';
import { CompanyPlaces } from './company-places.js';
import type { Metrics } from '../metrics.js';

/**
 * Request bodies of one company being received at once. A body is given `requestTimeout` (120 s) to arrive, and the
 * process serves a bounded number of connections (`ESCALATR_MAX_CONNECTIONS`): without this, one company sending
 * bodies a few bytes at a time over many connections (and many keys, each with its own rate limit) held every
 * connection the process would take, and every other company's requests went unanswered. A body holds its place
 * from the end of its request's headers until it has arrived (or its connection ends).
 */
export class BodiesReceiving {
  private readonly places: CompanyPlaces;

  constructor(readonly perCompany: number) {
    this.places = new CompanyPlaces(perCompany);
  }

  /** Takes a place for the request's body, or refuses it (429) before any of it is read. */
  admit(companyId: string, request: FastifyRequest, reply: FastifyReply): void {
    if (!hasBody(request)) return;
    const release = this.places.take(companyId);
    if (!release)
      throw overRate(
        'rate_limited',
        `${this.perCompany} request bodies of this company are being received; send the next when one has arrived`,
        1000,
        { limit: this.perCompany, per: 'company_bodies' },
      );
    // Whichever comes first: the body has arrived (request.raw 'end'), or the exchange is over.
    request.raw.once('end', release);
    reply.raw.once('close', release);
  }

  /** Bodies of the company being received now; of every company without one. */
  receiving(companyId?: string): number {
    return this.places.count(companyId);
  }
}

const hasBody = (request: FastifyRequest) => {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
};

/**
 * Admits bodies on every route with a company's credentials, after authentication and before the body is read, and
 * shows how many are being received in /metrics.
 */
export function installBodiesReceiving(app: FastifyInstance, perCompany: number, metrics?: Metrics): void {
  if (perCompany <= 0) return;
  const bodies = new BodiesReceiving(perCompany);
  if (metrics)
    new Gauge({
      name: 'escalatr_request_bodies_receiving',
      help: "Request bodies with a company's credentials being received now (each company at most ESCALATR_COMPANY_BODIES_RECEIVING)",
      registers: [metrics.registry],
      collect() {
        this.set(bodies.receiving());
      },
    });
  app.addHook('preParsing', async (request, reply) => {
    const companyId = request.company?.companyId;
    if (companyId) bodies.admit(companyId, request, reply);
  });
}
