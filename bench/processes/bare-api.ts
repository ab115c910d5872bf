import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { OkList } from '../../src/api/schemas.js';
import { ComplaintSummarySchema } from '../../src/api/shapes/complaints.js';
import { profilePhase } from '../lib/profile-phase.js';
import { serve } from '../lib/rpc.js';
import { peakRssMb } from '../lib/time.js';

/**
 * The API's baseline: a bare Fastify 5 server in its own process, one route answering the list page our
 * `GET /api/v1/complaints` answered (the orchestrator passes that page in, so the fields and bytes are the same),
 * with the same response schema so Fastify serialises it the same way. No store, no authentication, no rate limit,
 * no hooks or plugins, no logger: what Fastify itself costs for this answer, the ceiling our list is compared with.
 */

interface ListPage {
  success: true;
  page: number;
  limit: number;
  total: number;
  data: unknown[];
}

const ListResponse = OkList(ComplaintSummarySchema);
let app: FastifyInstance | null = null;

serve(
  {
    async listen(args: { page: ListPage }) {
      const held = args.page;
      app = Fastify({ logger: false });
      app.get('/api/v1/complaints', { schema: { response: { 200: ListResponse } } }, async () => ({
        success: true as const,
        page: held.page,
        limit: held.limit,
        total: held.total,
        data: held.data,
      }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { port: (app.server.address() as AddressInfo).port };
    },

    profilePhase,

    stats() {
      return { peakRssMb: peakRssMb() };
    },
  },
  async () => {
    await app?.close();
  },
);
