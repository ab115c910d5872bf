// node examples/express.js — an Express receiver for Escalatr webhooks on http://127.0.0.1:4000/hooks.
// WEBHOOK_SECRET is the endpoint's whsec_… secret (during a rotation: both, comma-separated).
import express from 'express';
import { createReplayGuard, expressWebhook } from '@escalatr/webhooks';

const secret = (process.env.WEBHOOK_SECRET ?? '').split(',').filter(Boolean);
const app = express();

// The webhook route verifies the raw bytes before anything parses them; mount express.json() only on other routes.
app.post('/hooks', expressWebhook({ secret, replayGuard: createReplayGuard() }), (req, res) => {
  const { event, idempotencyKey } = req.webhook;
  console.log(`${event} ${req.body.data?.escalatr_id ?? ''} (Idempotency-Key ${idempotencyKey})`);
  res.json({ received: true });
});

const port = Number(process.env.PORT ?? 4000);
app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/hooks`));
