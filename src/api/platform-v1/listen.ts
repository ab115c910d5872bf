import websocket from '@fastify/websocket';
import { Type } from '@sinclair/typebox';
import { AppError, validationFailed } from '../../errors.js';
import type { EndpointRow } from '../../webhooks/endpoints.js';
import { ListenerHub } from '../../webhooks/listener/listener-hub.js';
import {
  createListenerEndpoint,
  findListenerEndpoint,
  touchListenerEndpoint,
} from '../../webhooks/listener/listener-endpoints.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';

const ListenQuery = Type.Object(
  {
    forward_to: Type.Optional(
      Type.String({ maxLength: 2048, description: 'The local URL the listener forwards to (a new endpoint)' }),
    ),
    events: Type.Optional(
      Type.String({ maxLength: 2000, description: 'Comma-separated event names (a new endpoint); default: all' }),
    ),
    endpoint_id: Type.Optional(
      Type.String({
        pattern: '^ep_[0-9a-z]{20}$',
        description: 'Resume this development endpoint (a reconnect); its deliveries not yet answered are sent again',
      }),
    ),
  },
  { additionalProperties: false },
);

declare module 'fastify' {
  interface FastifyRequest {
    listenerEndpoint?: { row: EndpointRow; secret: string };
  }
}

function eventList(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return ['*'];
  return raw
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
}

/**
 * `escalatr listen`'s connection: a WebSocket that registers (or resumes) a development endpoint of the key's company
 * and carries its deliveries to the developer's machine and their results back (webhooks/listener/). Admin scope, as
 * for any endpoint; the endpoint is made or found before the upgrade, so a refusal is a plain HTTP answer.
 */
export function listenRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
    const hub = new ListenerHub(ctx, app.log);
    hub.start();
    app.addHook('onClose', async () => hub.stop());

    app.get(
      '/webhooks/listen',
      {
        websocket: true,
        onRequest: requireCompany(ctx, 'admin'),
        config: {
          errors: {
            404: 'not_found: endpoint_id names no development endpoint of your company',
            400: 'invalid_url: forward_to is not an http(s) URL; validation_failed: an unknown event name',
          },
        },
        schema: {
          tags: ['Webhooks'],
          summary: 'Listen for deliveries over a WebSocket (escalatr listen)',
          description:
            'Upgrades to a WebSocket. The server sends {type:"ready", endpoint_id, secret, events}, then ' +
            '{type:"delivery", delivery_id, event_id, event, attempt, headers, body, timeout_ms} for each attempt; ' +
            'the listener answers each with {type:"result", delivery_id, status_code, error_kind, duration_ms, ' +
            'response_excerpt}, recorded as the attempt.',
          querystring: ListenQuery,
        },
        preHandler: async (request) => {
          // A plain GET would otherwise register an endpoint and then be answered 404 by the WebSocket plugin.
          if (request.headers.upgrade?.toLowerCase() !== 'websocket')
            throw new AppError('upgrade_required', 'connect with a WebSocket upgrade, as escalatr listen does');
          const companyId = request.company!.companyId;
          const query = request.query as { forward_to?: string; events?: string; endpoint_id?: string };
          if (query.endpoint_id) {
            const row = await findListenerEndpoint(ctx, companyId, query.endpoint_id);
            request.listenerEndpoint = { row, secret: ctx.box.open(row.secret_enc) };
            return;
          }
          if (!query.forward_to)
            throw validationFailed('forward_to is required (or endpoint_id to resume)', { field: 'forward_to' });
          const events = eventList(query.events);
          const created = await createListenerEndpoint(ctx, companyId, { forwardTo: query.forward_to, events });
          const row = await findListenerEndpoint(ctx, companyId, created.id);
          request.listenerEndpoint = { row, secret: created.secret };
        },
      },
      (socket, request) => {
        const { row, secret } = request.listenerEndpoint!;
        const session = hub.open(row, { send: (message) => socket.send(JSON.stringify(message)) });
        void touchListenerEndpoint(ctx, row.id, ctx.clock.now()).catch(() => undefined);
        socket.send(
          JSON.stringify({ type: 'ready', endpoint_id: row.id, secret, events: JSON.parse(row.events) as string[] }),
        );
        socket.on('message', (data) => {
          void session.receive(String(data)).catch((err: unknown) => request.log.error({ err }, 'listener result'));
        });
        socket.on('close', () => void hub.close(session));
      },
    );
  };
}
