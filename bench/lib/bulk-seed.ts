import SQLite from 'better-sqlite3';
import { formatEscalatrId } from '../../src/domain/complaints.js';
import { levelName } from '../../src/domain/lifecycle.js';
import { newId } from '../../src/ids.js';
import { epochMs } from './time.js';

/**
 * Fills one company's complaints and events (and each event's delivery to one endpoint) straight into
 * the SQLite file, in big transactions with prepared statements: a million complaints through the domain would
 * take an hour. Every row has the shape `fileComplaint` + `emitEvent` + the worker give it (ids, sequence numbers,
 * body bytes, timestamps), and the company's counters move past them, so the domain keeps working on top.
 * Growing is incremental: seeding to 1,000,000 after 10,000 adds the other 990,000.
 */

export interface BulkSeedOptions {
  file: string;
  companyId: string;
  code: string;
  consumerId: string;
  /** The number of complaints (and events) the company should have when done. */
  total: number;
  /** With an endpoint, each event gets one delivered delivery, as a subscribed company's do (the feed shows it). */
  endpointId?: string | null;
}

const BATCH = 50_000;
const STATUSES = ['Open', 'Open', 'Open', 'Escalated', 'Resolved', 'Withdrawn'] as const;
const PRIORITIES = ['low', 'medium', 'medium', 'high', 'critical'] as const;
const CATEGORIES = ['Billing', 'Delivery', 'Refund', 'Product quality', 'Service'];

export function bulkSeed(opts: BulkSeedOptions): { added: number; total: number; ms: number } {
  const startedAt = epochMs();
  const db = new SQLite(opts.file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 10000');
  // Seeding only: the rows are rebuilt on every run, so durability is not wanted, and a page cache that holds the
  // indexes keeps inserts of random ids from re-reading B-tree pages from disk. The server's own connection keeps
  // the production settings.
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1048576');
  try {
    const company = db.prepare('select complaint_seq, event_seq from companies where id = ?').get(opts.companyId) as {
      complaint_seq: number;
      event_seq: number;
    };
    const from = company.complaint_seq;
    if (from >= opts.total) return { added: 0, total: from, ms: 0 };

    const insertComplaint =
      db.prepare(`insert into complaints (escalatr_id, company_id, consumer_id, complaint_category, title, description,
      status, stage, level, priority, amount_involved, currency, sla_due_at, last_staff_response_at, claimed_by, delegated_to,
      resolution_type, amount_recovered, resolution_notes, withdraw_reason, created_at, updated_at)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, null, null, ?, ?, null, ?, ?, ?)`);
    const insertEvent =
      db.prepare(`insert into events (id, company_id, seq, name, complaint_id, body, delivery_status, created_at)
      values (?, ?, ?, 'complaint.created', ?, ?, ?, ?)`);
    const insertDelivery =
      db.prepare(`insert into deliveries (id, company_id, event_id, endpoint_id, destination_id, target, status,
      attempt_count, next_attempt_at, lease_until, lease_owner, idempotency_key, last_status_code, last_error, created_at, updated_at)
      values (?, ?, ?, ?, null, 'endpoint', 'success', 1, null, null, null, ?, 200, null, ?, ?)`);

    // One complaint a minute back from now, so the newest seeded one is a minute old and real ones come after.
    const now = Date.now();
    const first = now - (opts.total - from + 1) * 60_000;
    const eventSeq0 = company.event_seq;
    const writeBatch = db.transaction((start: number, end: number) => {
      for (let i = start; i < end; i++) {
        const seq = i + 1;
        const at = first + (i - from) * 60_000;
        const id = formatEscalatrId(opts.code, at, seq);
        const status = STATUSES[i % STATUSES.length];
        const level = status === 'Escalated' ? 2 + (i % 8) : 1;
        const stage = status === 'Open' ? 'Intake' : status === 'Escalated' ? 'Escalation' : 'Closure';
        const priority = PRIORITIES[i % PRIORITIES.length];
        const category = CATEGORIES[i % CATEGORIES.length];
        const resolved = status === 'Resolved';
        insertComplaint.run(
          id,
          opts.companyId,
          opts.consumerId,
          category,
          'Charged twice',
          'The March invoice was charged twice to my card.',
          status,
          stage,
          level,
          priority,
          120.5,
          'USD',
          at + 72 * 3600_000,
          resolved ? 'refund' : null,
          resolved ? 120.5 : null,
          status === 'Withdrawn' ? 'resolved_elsewhere' : null,
          at,
          at,
        );
        const eventId = newId('evt');
        const body = JSON.stringify({
          id: eventId,
          event: 'complaint.created',
          timestamp: new Date(at).toISOString(),
          data: {
            escalatr_id: id,
            status: 'Open',
            escalation_level: levelName(1),
            complaint_category: category,
            priority,
          },
        });
        insertEvent.run(
          eventId,
          opts.companyId,
          eventSeq0 + (i - from) + 1,
          id,
          body,
          opts.endpointId ? 'success' : 'none',
          at,
        );
        if (opts.endpointId) {
          insertDelivery.run(
            newId('dlv'),
            opts.companyId,
            eventId,
            opts.endpointId,
            `${eventId}:${opts.endpointId}`,
            at,
            at + 5,
          );
        }
      }
      db.prepare('update companies set complaint_seq = ?, event_seq = ? where id = ?').run(
        end,
        eventSeq0 + (end - from),
        opts.companyId,
      );
    });
    for (let start = from; start < opts.total; start += BATCH) writeBatch(start, Math.min(opts.total, start + BATCH));
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { added: opts.total - from, total: opts.total, ms: epochMs() - startedAt };
  } finally {
    db.close();
  }
}
