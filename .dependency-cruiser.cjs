/**
 * The layer rules of src/: modules import downward only, and nothing imports in a circle.
 * Layers, lowest first; a module may import its own layer and the ones below it, never one above.
 */
const LAYERS = [
  { name: 'base', path: '^src/(clock|errors|ids|logger|metrics|config|periodic|tracing|threads)\\.ts$' },
  { name: 'storage and security', path: '^src/(storage|security)/' },
  { name: 'queue', path: '^src/queue/' },
  { name: 'domain', path: '^src/domain/' },
  { name: 'webhooks', path: '^src/webhooks/' },
  { name: 'shield', path: '^src/shield/' },
  { name: 'api and web', path: '^src/(api|web)/' },
  { name: 'runtime', path: '^src/(app|server|runtime)(\\.ts$|/)' },
  { name: 'cli', path: '^src/cli/' },
];

/** Known exceptions, each with its reason; the list should only shrink. */
const EXCEPTIONS = [
  {
    from: '^src/storage/migrations/(0009_queue_functions|0014_fair_claim|0036_ordered_paced_endpoints|0038_listener_endpoints|0039_partitioned_attempts|0047_claim_walks_receivers|0049_attempt_event_ids|0050_claim_per_receiver|0052_successes_ask_notice|0054_deliveries_queue_partition|0059_deliveries_settled_by_time)\\.ts$',
    reason:
      "A migration installs the queue's PostgreSQL functions from the one place their bodies are written " +
      '(src/queue/pg-functions.ts), so the SQL they share with the SQLite statements is not copied into storage/.',
  },
];

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `no-upward-from-${layer.name.replace(/\W+/g, '-')}`,
  comment: `${layer.name} must not import a higher layer (${LAYERS.slice(i + 1)
    .map((l) => l.name)
    .join(', ')})`,
  severity: 'error',
  from: { path: layer.path, pathNot: EXCEPTIONS.map((e) => e.from) },
  to: { path: LAYERS.slice(i + 1).map((l) => l.path) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make load order matter and hide which part depends on which.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-tests-or-tools',
      comment: 'Shipped code never imports tests, benchmarks or scripts.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts)/' },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|web/dist)/' },
  },
};
