import { CompiledQuery, type Compilable } from 'kysely';
import type { Store, Tx } from './db.js';

/**
 * Runs several inserts of one transaction as one statement on PostgreSQL (each but the last a data-modifying WITH
 * query; all of them run, in one round trip), one after another on SQLite, which runs no data-modifying WITH and whose
 * statements cost no round trip. For a transaction that holds a hot row lock (a company's sequence) while it writes:
 * each round trip made under the lock is time every other writer of that company waits. The tables carry no
 * foreign keys between the rows written, so their order inside the statement does not matter.
 */
export async function insertTogether(store: Store, tx: Tx, inserts: readonly Compilable[]): Promise<void> {
  if (inserts.length === 0) return;
  const compiled = inserts.map((q) => q.compile());
  if (store.profile.name !== 'postgres' || compiled.length === 1) {
    for (const q of compiled) await tx.executeQuery(q);
    return;
  }
  // Each insert's placeholders ($1…) are renumbered after the parameters of the inserts before it. Values always
  // travel as parameters, and the statements name quoted tables and columns only, so `$` + digits is a placeholder.
  const parameters: unknown[] = [];
  const texts = compiled.map((q) => {
    const offset = parameters.length;
    parameters.push(...q.parameters);
    return q.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
  });
  const last = texts.pop()!;
  const text = `with ${texts.map((t, i) => `w${i} as (${t})`).join(', ')} ${last}`;
  await tx.executeQuery(CompiledQuery.raw(text, parameters));
}
