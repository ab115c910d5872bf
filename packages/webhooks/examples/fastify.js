// node examples/fastify.js — a Fastify receiver for Escalatr webhooks on http://127.0.0.1:4000/hooks.
// WEBHOOK_SECRET is the endpoint's whsec_… secret (during a rotation: both, comma-separated).
import Fastify from 'fastify';
import { createReplayGuard, fastifyWebhook } from '@escalatr/webhooks';

const secret = (process.env.WEBHOOK_SECRET ?? '').split(',').filter(Boolean);
const app = Fastify({ logger: true });

// Register the plugin inside its own scope: routes outside it keep Fastify's JSON parser.
await app.register(async (hooks) => {
  await hooks.register(fastifyWebhook, { secret, replayGuard: createReplayGuard() });
  hooks.post('/hooks', async (request) => {
    const { event, idempotencyKey } = request.webhook;
    request.log.info({ event, idempotencyKey, escalatr_id: request.body.data?.escalatr_id }, 'webhook');
    return { received: true };
  });
});

await app.listen({ port: Number(process.env.PORT ?? 4000), host: '127.0.0.1' });
