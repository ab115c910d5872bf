import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { PG_QUEUE_FUNCTION_BODIES } from '../../src/queue/pg-functions.js';
import * as m0007 from '../../src/storage/migrations/0007_record_successes_function.js';
import * as m0008 from '../../src/storage/migrations/0008_queue_write_plans.js';
import * as m0009 from '../../src/storage/migrations/0009_queue_functions.js';
import * as m0014 from '../../src/storage/migrations/0014_fair_claim.js';
import * as m0047 from '../../src/storage/migrations/0047_claim_walks_receivers.js';
import * as m0050 from '../../src/storage/migrations/0050_claim_per_receiver.js';
import { createTestStore, DATABASE_URL, type TestStore } from '../helpers/harness.js';

interface Installed {
  name: string;
  source: string;
  config: string[] | null;
}

const NAMES = Object.keys(PG_QUEUE_FUNCTION_BODIES).sort();

describe.skipIf(!DATABASE_URL)('PostgreSQL: the queue functions come from the queue module', () => {
  let ts: TestStore;
  beforeEach(async () => {
    ts = await createTestStore();
  });
  afterEach(async () => ts.cleanup());

  const installed = async (): Promise<Installed[]> => {
    const { rows } = await sql<Installed>`
      select p.proname as name, p.prosrc as source, p.proconfig as config
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = current_schema() and p.proname = any(${NAMES}::text[])
      order by p.proname`.execute(ts.store.db);
    return rows;
  };

  it('a migrated store runs exactly the bodies written in src/queue/pg-functions.ts', async () => {
    const now = await installed();
    expect(now.map((f) => f.name)).toEqual(NAMES);
    for (const f of now) expect(f.source, f.name).toBe(PG_QUEUE_FUNCTION_BODIES[f.name].compile(ts.store.db).sql);
  });

  it("over what migrations 0007 and 0008 left, 0009, 0014, 0047 then 0050 leave one function per name: the module's bodies and plans", async () => {
    // Put back what 0007 and 0008 installed (the claim of the old signature among them), then apply 0009, 0014,
    // 0047 and 0050.
    const { db } = ts.store;
    await sql`drop function record_delivery_successes(text[], text[], integer[], integer[], bigint[], text[], text[], bigint[], bigint[], text[], text[])`.execute(
      db,
    );
    await sql`drop function claim_due_deliveries(bigint, integer, bigint, text, text[], text[], integer, integer, text, text)`.execute(
      db,
    );
    // The table as those migrations found it: one table, before 0054 split it by status, with the due index 0014
    // makes again and without the index 0047 makes.
    await sql`create table deliveries_flat (like deliveries including defaults)`.execute(db);
    await sql`drop table deliveries`.execute(db);
    await sql`alter table deliveries_flat rename to deliveries`.execute(db);
    await sql`alter table deliveries add primary key (id)`.execute(db);
    await sql`create index deliveries_due on deliveries (next_attempt_at) where status in ('pending', 'failed')`.execute(
      db,
    );
    await m0007.up(db);
    await m0008.up(db);
    await m0009.up(db);
    await m0014.up(db);
    await m0047.up(db);
    await m0050.up(db);
    const after = await installed();
    expect(after.map((f) => f.name)).toEqual(NAMES);
    for (const f of after) expect(f.source, f.name).toBe(PG_QUEUE_FUNCTION_BODIES[f.name].compile(db).sql);
    expect(after.find((f) => f.name === 'claim_due_deliveries')?.config).toEqual([
      'enable_bitmapscan=off',
      'enable_seqscan=off',
    ]);
  });
});
