import { type Kysely } from 'kysely';

/**
 * Each event's trace context (a W3C `traceparent`), written only while tracing is on: the worker that sends the
 * event's deliveries runs later and often in another process, and its attempt spans continue the trace of the request
 * that wrote the event from this column. Null for events written with tracing off.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('events').addColumn('traceparent', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
