import { consumerRoutes } from './consumer-v1/complaints.js';
import { staffStepRoutes } from './platform-v1/staff-steps.js';
import { noteRoutes } from './platform-v1/notes.js';
import { reportRoutes } from './platform-v1/reports.js';
import { settingsRoutes } from './platform-v1/settings.js';
import { complaintReadRoutes } from './platform-v1/complaints.js';
import { eventFeedRoutes } from './platform-v1/events.js';
import { apiKeyRoutes } from './platform-v1/api-keys.js';
import { webhookRoutes } from './platform-v1/webhooks.js';
import { listenRoutes } from './platform-v1/listen.js';
import { shieldRoutes } from './platform-v1/shield.js';
import { sessionRoutes } from './dashboard/session.js';
import { consumerSessionRoutes } from './consumer-session/session.js';
import { operatorRoutes } from './operator/erasure.js';
import { healthRoutes, metricsRoute } from './health.js';
import { registerOpenApi } from './openapi.js';
import { webRoutes } from '../web/serve.js';
import { AppError } from '../errors.js';
import { registerReadYourWrites } from './read-your-writes.js';
import type { ApiApp, RouteDeps } from './deps.js';

/** Every route of the service, by part. Each part is a Fastify plugin in its own module. */
export async function registerRoutes(app: ApiApp, deps: RouteDeps): Promise<void> {
  // The OpenAPI document is built from the schemas of routes registered after it.
  await registerOpenApi(app, deps);
  registerReadYourWrites(app, deps.reads);
  await app.register(healthRoutes(deps));
  // With a separate metrics address the API's listener does not serve them at all (not even the dashboard's page).
  if (!deps.config.metricsListen) await app.register(metricsRoute(deps));
  else
    app.get('/metrics', async () => {
      throw new AppError('not_found', 'Route GET /metrics not found');
    });
  await app.register(consumerRoutes(deps), { prefix: '/api/consumer/v1' });
  await app.register(complaintReadRoutes(deps), { prefix: '/api/v1' });
  await app.register(staffStepRoutes(deps), { prefix: '/api/v1' });
  await app.register(noteRoutes(deps), { prefix: '/api/v1' });
  await app.register(eventFeedRoutes(deps), { prefix: '/api/v1' });
  await app.register(settingsRoutes(deps), { prefix: '/api/v1' });
  await app.register(reportRoutes(deps), { prefix: '/api/v1' });
  await app.register(apiKeyRoutes(deps), { prefix: '/api/v1' });
  await app.register(webhookRoutes(deps), { prefix: '/api/v1' });
  await app.register(listenRoutes(deps), { prefix: '/api/v1' });
  await app.register(shieldRoutes(deps), { prefix: '/api/v1' });
  await app.register(sessionRoutes(deps), { prefix: '/api/session' });
  await app.register(consumerSessionRoutes(deps), { prefix: '/api/consumer/session' });
  await app.register(operatorRoutes(deps), { prefix: '/api/operator/v1' });
  await app.register(webRoutes());
}
