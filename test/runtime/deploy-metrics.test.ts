import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore } from '../../src/storage/db.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';

const DEPLOY_FILES = [
  'deploy/prometheus/escalatr-alerts.yml',
  'deploy/prometheus/escalatr-alerts.test.yml',
  'deploy/grafana/escalatr-dashboard.json',
];

/** Every series name a /metrics answer can carry: histograms as their _bucket, _sum and _count series. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('deploy/: the dashboard and alert rules name only metrics /metrics serves', () => {
  let t: TestApp | undefined;
  let rx: Receiver | undefined;
  afterEach(async () => {
    await rx?.close();
    await t?.close();
  });

  it('finds every escalatr_* name of the rules, their tests and the dashboard in a scrape', async () => {
    t = await createTestApp();
    const res = await t.app.http.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    const exposed = exposedNames(res.body);
    // The watch on unanswered queries is PostgreSQL's: its counter is served on that store only.
    if (t.store.profile.name === 'postgres')
      expect(sample(res.body, 'escalatr_pg_unanswered_connections_closed_total{server="primary"}')).toBe(0);
    else expect(exposed.has('escalatr_pg_unanswered_connections_closed_total')).toBe(false);
    // The SQLite service's checkpoint thread adds its own (the test app's store runs none): a store that runs one.
    const dir = mkdtempSync(join(tmpdir(), 'escalatr-deploy-'));
    const sqlite = openStore({ sqliteFile: join(dir, 'store.db'), backgroundCheckpoints: { onLost: () => {} } });
    try {
      const scrape = await createMetrics({ walCheckpoints: () => sqlite.checkpointer!.stats() }).registry.metrics();
      for (const name of exposedNames(scrape)) if (name.startsWith('escalatr_sqlite_')) exposed.add(name);
      // And a PostgreSQL store its watch on unanswered queries.
      const pg = await createMetrics({ pgUnansweredClosed: () => ({ primary: 0, replica: 0 }) }).registry.metrics();
      for (const name of exposedNames(pg)) if (name.startsWith('escalatr_pg_')) exposed.add(name);
    } finally {
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    }
    for (const file of DEPLOY_FILES) {
      const named = new Set(readFileSync(file, 'utf8').match(/\bescalatr_[a-z0-9_]+/g) ?? []);
      expect(named.size, file).toBeGreaterThan(0);
      const missing = [...named].filter((n) => !exposed.has(n));
      expect(missing, `${file} names metrics /metrics does not serve`).toEqual([]);
    }
    // The dashboard is JSON Grafana can import, with a query in every panel.
    const dashboard = JSON.parse(readFileSync('deploy/grafana/escalatr-dashboard.json', 'utf8')) as {
      panels: Array<{ type: string; targets?: Array<{ expr: string }> }>;
    };
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row'))
      expect(panel.targets?.every((q) => q.expr.includes('escalatr_'))).toBe(true);
  });

  it('reports the queue depth, the oldest due delivery and endpoints by health from the store', async () => {
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    const tenant = await seedTenant(t);
    rx = await startReceiver({ behaviour: () => ({ status: 500 }) });
    await addEndpoint(t, tenant.company.id, rx.url);
    const scrape = async () => (await t!.app.http.inject({ method: 'GET', url: '/metrics' })).body;

    let text = await scrape();
    expect(sample(text, 'escalatr_queue_deliveries{status="pending"}')).toBe(0);
    expect(sample(text, 'escalatr_queue_oldest_due_age_seconds')).toBe(0);
    expect(sample(text, 'escalatr_endpoints{state="healthy"}')).toBe(1);

    const filed = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(tenant.consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'Consumer Durables', title: 'Oven', description: 'Cold' },
    });
    expect(filed.statusCode).toBe(201);
    t.clock.advance(90_000);
    text = await scrape();
    expect(sample(text, 'escalatr_queue_deliveries{status="pending"}')).toBe(1);
    expect(sample(text, 'escalatr_queue_oldest_due_age_seconds')).toBe(90);

    // One failed attempt: the row waits for its retry (not overdue), the endpoint is failing.
    const w = await testWorker(t);
    try {
      expect(await w.worker.drain()).toBe(1);
    } finally {
      await w.stop();
    }
    text = await scrape();
    expect(sample(text, 'escalatr_queue_deliveries{status="pending"}')).toBe(0);
    expect(sample(text, 'escalatr_queue_deliveries{status="failed"}')).toBe(1);
    expect(sample(text, 'escalatr_queue_oldest_due_age_seconds')).toBe(0);
    expect(sample(text, 'escalatr_endpoints{state="failing"}')).toBe(1);
    expect(
      sample(text, 'escalatr_delivery_attempts_total{target="endpoint",outcome="http_status",receiver_state="open"}'),
    ).toBe(1);
  });
});
