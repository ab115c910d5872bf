import type { FastifyPluginCallback } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError } from '../config.js';
import { setTracingEnabled } from '../tracing.js';

/** A started OpenTelemetry SDK: the request instrumentation for the HTTP app, and its flush and stop. */
export interface Telemetry {
  /** @fastify/otel's plugin: registered before any route, it makes each request's span the active one. */
  fastifyPlugin: FastifyPluginCallback;
  /** Sends every finished span now (tests; a graceful stop). */
  forceFlush(): Promise<void>;
  /** Flushes, stops the exporter and puts the process's tracing back off. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/** Requests that are not work done for a tenant: probes and scrapes would otherwise be most of the traces. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

/**
 * Whether the standard variables ask for traces. Off unless asked: `OTEL_TRACES_EXPORTER=otlp`, or an OTLP endpoint
 * set with no exporter named; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keep it off whatever else is set.
 */
export function tracesRequested(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = list(env.OTEL_TRACES_EXPORTER);
  if (exporters.length === 0)
    return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
  if (exporters.includes('none')) return false;
  const unsupported = exporters.filter((e) => e !== 'otlp');
  if (unsupported.length)
    throw new ConfigError('OTEL_TRACES_EXPORTER', `only otlp (or none) is supported, not ${unsupported.join(', ')}`);
  return true;
}

/** OTLP over HTTP, in protobuf (the default) or JSON; gRPC would need a second transport stack for one exporter. */
function protocolOf(env: Env): 'http/protobuf' | 'http/json' {
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf')
    .trim()
    .toLowerCase();
  if (protocol === 'http/protobuf' || protocol === 'http/json') return protocol;
  throw new ConfigError('OTEL_EXPORTER_OTLP_PROTOCOL', `use http/protobuf or http/json, not ${protocol}`);
}

/**
 * Starts the SDK when the environment asks for traces (tracesRequested), otherwise answers null having loaded none
 * of it. The exporter, sampler, batch and resource read their own standard variables (OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_RESOURCE_ATTRIBUTES); the service is named
 * `escalatr` unless OTEL_SERVICE_NAME says otherwise.
 */
export async function startTelemetry(env: Env = process.env, logger?: Logger): Promise<Telemetry | null> {
  if (!tracesRequested(env)) return null;
  const protocol = protocolOf(env);
  const [{ context, propagation, trace }, node, resources, exporterModule, fastifyOtel] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    protocol === 'http/json'
      ? import('@opentelemetry/exporter-trace-otlp-http')
      : import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@fastify/otel'),
  ]);
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': 'escalatr' }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new node.NodeTracerProvider({
    resource,
    spanProcessors: [new node.BatchSpanProcessor(new exporterModule.OTLPTraceExporter())],
  });
  // The global provider, the AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  const instrumentation = new fastifyOtel.FastifyOtelInstrumentation({
    // One span per request and one for its handler; a span per lifecycle hook would triple the count.
    instrumentHooks: false,
    ignorePaths: ({ url }) => UNTRACED_PATHS.has(url),
    // The path without its query string: a query may carry a cursor or a search, which is not the trace's business.
    requestHook: (span, request) => span.setAttribute('url.path', request.url.split('?')[0]),
  });
  instrumentation.setTracerProvider(provider);
  setTracingEnabled(true);
  logger?.info({ protocol, service: resource.attributes['service.name'] }, 'OpenTelemetry traces on');
  let stopped: Promise<void> | null = null;
  return {
    fastifyPlugin: instrumentation.plugin(),
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      stopped ??= (async () => {
        setTracingEnabled(false);
        instrumentation.disable();
        await provider.shutdown();
        trace.disable();
        context.disable();
        propagation.disable();
      })();
      return stopped;
    },
  };
}
