import { stat } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, routeNotFound } from '../errors.js';
import { DIST_DIR, ensureDashboardBuilt } from './build-dashboard.js';

// The bundle is same-origin only: no CDN, no inline scripts, no framing.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const isApiPath = (path: string) => path === '/api' || path.startsWith('/api/');
/** The consumer portal's pages: its own app (portal/index.html), routed in the browser like the dashboard. */
const isPortalPath = (path: string) => path === '/portal' || path.startsWith('/portal/');

/**
 * Maps a URL path to a file inside web/dist, or null: never a path that climbs out of it. Each segment is decoded
 * on its own, and one that decodes to a separator or a dot segment names no file: an app route such as
 * /shield/feedback/{record id} carries ids with encoded slashes, and `..%2F..%2Fassets%2F…` must still load the app.
 */
async function distFile(urlPath: string): Promise<string | null> {
  const segments: string[] = [];
  for (const raw of urlPath.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (/[/\\\0]/.test(segment) || segment === '.' || segment === '..') return null;
    segments.push(segment);
  }
  const decoded = segments.join('/');
  const rel = normalize(decoded).replace(/^([/\\])+/, '');
  if (!rel || rel.startsWith('..')) return null;
  const full = join(DIST_DIR, rel);
  if (!full.startsWith(DIST_DIR + sep)) return null;
  const st = await stat(full).catch(() => null);
  return st?.isFile() ? rel : null;
}

/**
 * The dashboard at `/`: files from web/dist (hashed assets cached for a year), and index.html for every other
 * GET outside /api, so deep links such as /complaints/ESC-… load the app, which routes in the browser. Paths under
 * /portal load the consumer portal's page the same way.
 */
export function webRoutes() {
  return async (app: FastifyInstance) => {
    // On a fresh clone web/dist does not exist until the first listen builds it: no warning that it must.
    await app.register(fastifyStatic, { root: DIST_DIR, serve: false, suppressWarning: true });

    // A listening server (npm start, e2e) starts the build at once; in-process test apps never listen, and
    // build only if a test asks for the dashboard.
    app.addHook('onListen', async () => {
      ensureDashboardBuilt().catch((err) => app.log.error({ err }, 'dashboard build failed'));
    });

    const serve = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?')[0];
      if (isApiPath(path)) throw routeNotFound(request.method, path);
      try {
        await ensureDashboardBuilt();
      } catch {
        throw new AppError(
          'unavailable',
          'The dashboard could not be built; run `npx vite build web` and see the server log',
        );
      }
      reply.headers(SECURITY_HEADERS);
      const file = path === '/' ? null : await distFile(path);
      const page = isPortalPath(path) ? 'portal/index.html' : 'index.html';
      if (file && file !== 'index.html' && file !== 'portal/index.html') {
        const immutable = file.startsWith('assets/');
        return reply.sendFile(file, { maxAge: immutable ? 365 * 24 * 3600 * 1000 : 0, immutable, cacheControl: true });
      }
      // An unknown /assets/… file is a stale link, not an app route.
      if (path.startsWith('/assets/')) throw routeNotFound(request.method, path);
      reply.header('cache-control', 'no-cache');
      return reply.sendFile(page, { cacheControl: false });
    };

    app.get('/', serve);
    app.get('/*', serve);
  };
}
