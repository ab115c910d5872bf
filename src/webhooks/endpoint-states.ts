import { sql } from 'kysely';
import type { Store } from '../storage/db.js';

export type EndpointState = 'healthy' | 'failing' | 'disabled';

/**
 * The companies' endpoints by health (endpoint-health.ts): disabled (by its owner or automatically), failing (its
 * deliveries have been failing since failing_since), healthy otherwise. Development endpoints of `escalatr listen`
 * are left out: they come and go with a developer's terminal.
 */
export async function endpointStates(store: Store): Promise<Record<EndpointState, number>> {
  const { rows } = await sql<{ state: EndpointState; n: number | string }>`
    select case when enabled = 0 then 'disabled' when failing_since is not null then 'failing' else 'healthy' end
      as state, count(*) as n
    from endpoints where listener_seen_at is null group by 1`.execute(store.db);
  const states: Record<EndpointState, number> = { healthy: 0, failing: 0, disabled: 0 };
  for (const r of rows) states[r.state] = Number(r.n);
  return states;
}
