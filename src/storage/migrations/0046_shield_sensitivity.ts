import { type Kysely } from 'kysely';

/**
 * Escalation Shield v2: each automation's sensitivity (how readily its alerts fire; existing automations keep the
 * behaviour they had, `balanced`), and each scored record's explanation (the signals that drove its levels, with their
 * spans and weights, and the model's escalation logits, from which a sensitivity's level is computed).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('automations')
    .addColumn('sensitivity', 'text', (c) => c.notNull().defaultTo('balanced'))
    .execute();
  await db.schema.alterTable('feedback_records').addColumn('explanation', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
