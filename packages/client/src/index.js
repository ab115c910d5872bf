// The typed client: openapi-fetch over the paths generated from the server's OpenAPI document (schema.d.ts). Plain
// JavaScript with a hand-written index.d.ts, so it runs on Node.js 20 and in browsers without a build step.
import createClient from 'openapi-fetch';

/**
 * A client for one Escalatr server. `baseUrl` is the server's address (e.g. `https://escalatr.example.com`);
 * `apiKey` is sent as `Authorization: Bearer …` on every request.
 */
export function createEscalatrClient({ baseUrl, apiKey, fetch, headers } = {}) {
  if (typeof baseUrl !== 'string' || baseUrl === '') throw new TypeError('baseUrl is required');
  return createClient({
    baseUrl: baseUrl.replace(/\/+$/, ''),
    ...(fetch ? { fetch } : {}),
    headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...headers },
  });
}
