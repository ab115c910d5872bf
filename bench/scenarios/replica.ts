import { replicaUnsupported, startPgReplica, type PgReplica } from '../../scripts/pg-replica.js';
import type { BenchChild } from '../lib/rpc.js';
import { httpLoad } from '../lib/http-load.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { createDatabase, pgUnavailable, type FreshDatabase } from '../lib/services.js';

/**
 * API reads on PostgreSQL with and without a read replica (DATABASE_READ_URL): a database of its own filled through
 * the domain, a streaming replica made from it (scripts/pg-replica.ts, on this machine, dropped after), then two API
 * processes of the same configuration — one reading the primary, one the replica — each loaded with autocannon on
 * GET /api/v1/complaints and GET /api/v1/events (first page, default limit). The replica's share of the reads comes
 * from the server's own escalatr_store_reads_total, so the figure shows where the reads went, not only how fast.
 * On one machine the replica shares the cores with the primary: this measures the cost of the replica path, not
 * the capacity a replica on its own machine adds.
 */

const ROUTES = { list: '/api/v1/complaints', feed: '/api/v1/events' } as const;

export async function replicaPrecheck(): Promise<string | null> {
  return (await pgUnavailable()) ?? (await replicaUnsupported('postgres://postgres@127.0.0.1:5432/postgres'));
}

export async function replicaReads(ctx: BenchContext): Promise<ScenarioResult> {
  const { plan } = ctx;
  const complaints = plan.quick ? 2_000 : 20_000;
  let db: FreshDatabase | null = null;
  let replica: PgReplica | null = null;
  const children: BenchChild[] = [];
  try {
    db = await createDatabase('escalatr_bench_replica');
    const store = { kind: 'pg', url: db.url };
    const seeder = await ctx.child('processes/escalatr', 'replica-seed');
    children.push(seeder);
    await seeder.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: true });
    await seeder.call('seed', { code: 'VOLT', endpoints: [] });
    await seeder.call('commit', { count: complaints, parallel: 8 });
    const key = await seeder.call<string>('apiKey');
    await seeder.close();
    replica = await startPgReplica(db.url);
    await replica.catchUp();
    ctx.log(`replica: ${complaints.toLocaleString('en')} complaints and events, replica on port ${replica.port}`);

    const values: Record<string, number> = {};
    const details: Record<string, unknown> = { complaints, connections: plan.apiConnections, seconds: plan.apiSeconds };
    // Both API processes up at once and measured in turn, route by route, so a change in the machine's load falls on
    // both sides rather than on one.
    const servers: Array<{ label: 'primary' | 'replica'; base: string }> = [];
    for (const [label, config] of [
      ['primary', {}],
      ['replica', { databaseReadUrl: replica.urlFor(db.url) }],
    ] as const) {
      const sut = await ctx.child('processes/escalatr', `replica-api-${label}`);
      children.push(sut);
      await sut.call('open', { store, masterKeyHex: ctx.masterKeyHex, migrate: false, config });
      const { port } = await sut.call<{ port: number }>('listen');
      servers.push({ label, base: `http://127.0.0.1:${port}` });
    }
    const headers = { authorization: `Bearer ${key}` };
    for (const [name, path] of Object.entries(ROUTES)) {
      for (const { label, base } of servers) {
        const load = { url: base + path, headers, connections: plan.apiConnections };
        await httpLoad({ ...load, duration: 1 }); // warm-up
        const before = await readsByTarget(base);
        const r = await httpLoad({ ...load, duration: plan.apiSeconds });
        if (r.non2xx || r.errors)
          throw new Error(`${label} ${path}: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
        const after = await readsByTarget(base);
        const served = (t: string) => (after[t] ?? 0) - (before[t] ?? 0);
        const metric = `api_pg_${label === 'replica' ? 'replica_' : ''}${name}`;
        values[`${metric}_per_s`] = r.perS;
        values[`${metric}_p99_ms`] = r.p99;
        details[`${metric}_reads`] = { replica: served('replica'), primary: served('primary') };
        ctx.log(
          `replica: ${path} reading the ${label}: ${values[`${metric}_per_s`]} req/s, p99 ${r.p99} ms; ` +
            `reads answered by the replica ${served('replica')}, by the primary ${served('primary')}`,
        );
      }
    }
    return { values, details };
  } finally {
    await Promise.all(children.map((c) => c.close().catch(() => undefined)));
    await replica?.drop().catch(() => undefined);
    await db?.drop().catch(() => undefined);
  }
}

/** The server's reads by target, from its /metrics. */
async function readsByTarget(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^escalatr_store_reads_total\{target="(\w+)",reason="\w+"} (\d+)/gm))
    out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  return out;
}
