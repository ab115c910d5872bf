import { sql } from 'kysely';
import type { Logger } from 'pino';
import { PeriodicJob } from '../periodic.js';
import { inTransaction, type Tx } from '../storage/db.js';
import { madeWithin } from '../queue/conditions.js';
import type { DialectProfile } from '../storage/dialects.js';
import {
  DELIVERY_HISTORY,
  maintainHistoryPartitions,
  type CompanyWindow,
  type PartitionReport,
} from '../storage/history-partitions.js';
import type { DomainContext } from './context.js';
import { feedSummary } from './event-feed.js';
import type { Plan } from './plans.js';
import { historyClass, retentionCutoff } from './retention.js';

/** The history tables retention removes rows from. */
export type PrunedTable = 'events' | 'deliveries' | 'attempts' | 'feedback_records' | 'shield_alert_keys';

/** The history tables PostgreSQL keeps in partitions by retention class and time. */
type PartitionedTable = 'attempts' | 'deliveries';

/** The tables whose oldest row is reported (a delivery lives and goes with its event and attempts). */
export type AgedTable = 'events' | 'attempts' | 'feedback_records';

export interface PruneReport {
  /** Rows removed by this run, per table. */
  pruned: Record<PrunedTable, number>;
  /** False when the run stopped at its batch budget (or was stopped) with more to remove: the next run goes on. */
  done: boolean;
  /** The oldest row still held per table after the run (epoch ms), across every company; null when empty. */
  oldest: Record<AgedTable, number | null>;
  /** PostgreSQL: the partitions of each history table after the run's maintenance (storage/history-partitions.ts). */
  partitions?: Record<PartitionedTable, PartitionReport>;
  /** Where the run's time went: its write transactions, and the longest of them (a writer waits that long at most). */
  timing: RunTiming;
}

export interface RunTiming {
  /** Batches that removed rows or found work, their total and longest time. */
  batches: number;
  batchMs: number;
  maxBatchMs: number;
  /** SQLite: transactions giving free pages back, their total and longest time. */
  vacuumSteps: number;
  vacuumMs: number;
  maxVacuumStepMs: number;
  /** The run from start to end, pauses between transactions included. */
  totalMs: number;
  /** Per step of a run: its transactions (found work or not) and their total time. */
  steps: Record<PruneStep, { transactions: number; ms: number }>;
}

/** A run's steps, in order, for each company: the feed's expired events, held deliveries since settled, feedback. */
type PruneStep = 'feed' | 'held' | 'feedback';

export interface PrunerOptions {
  log?: Logger;
  /** How often a run starts. */
  intervalMs?: number;
  /** Rows one write transaction may remove: small, so a writer waiting on SQLite's lock never waits long. */
  batchRows?: number;
  /** Batches one run may take before it leaves the rest to the next run. */
  maxBatchesPerRun?: number;
  /** Told after every run (metrics). */
  onRun?: (report: PruneReport) => void;
}

interface CompanyRow {
  id: string;
  plan: Plan;
  retention_days: number | null;
  retention_minutes: number | null;
  history_class: number;
}

interface BatchResult {
  pruned: Partial<Record<PrunedTable, number>>;
  done: boolean;
  /** Found nothing to do: such a look does not count against the run's batch budget. */
  idle?: boolean;
}

const DEFAULT_BATCH_ROWS = 500;
const DEFAULT_MAX_BATCHES = 1000;
/** Held rows the held step looks at per statement, with their deliveries' state (a few ms on SQLite). */
const HELD_SCAN_ROWS = 5000;
/** The pause before the next run when one stopped at its budget with more to remove. */
const CATCH_UP_MS = 1000;
/** Pages given back to the file system per transaction on SQLite (1 MB at the default page size). */
const VACUUM_PAGES_PER_STEP = 256;
/** At most 256 MB given back per run; the rest waits for the next run (free pages are reused for rows meanwhile). */
const MAX_VACUUM_STEPS = 256;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Removes what is older than each company's retention window: the event feed, delivery history (deliveries,
 * attempts, the bodies of events kept for delivery), Shield feedback records and the keys of alerts raised before the
 * window. The complaint's own record and its timeline (the events that carry its id) stay: such an event leaves the
 * feed but keeps its row.
 *
 * Work is cut into batches of at most `batchRows` rows, each its own short transaction, and the loop yields to the
 * event loop between batches, so requests are served between them and a writer waiting on SQLite's single write
 * lock waits for one batch at most. A delivery still unsettled (pending, failed awaiting a retry, or leased) is never
 * removed: it is noted in `retention_held` and removed, with its attempts, by a later run once it has settled.
 *
 * Safe with several processes on one PostgreSQL: a batch locks its company's row first (as writing an event does),
 * so two pruners take turns per company, and locks the deliveries it removes, so a resend waits and then finds the
 * row gone instead of being lost.
 */
export class RetentionPruner {
  private readonly job: PeriodicJob<PruneReport>;
  /** Set by `stop()`: a run under way stops between batches instead of finishing its budget. */
  private stopping = false;
  private readonly batchRows: number;
  private readonly maxBatches: number;
  /**
   * Events a feed batch reads: as many as the batch's rows hold at the cost per event (its deliveries and their
   * attempts) the previous batch found, plus one to see where the next begins. Reading `batchRows` events to remove
   * the few that fit made each batch read every delivery of hundreds of events: with ten endpoints per event, thirty
   * delivery rows read for each one removed, and the step fell behind the history arriving.
   */
  private eventsPerBatch = 16;
  private last: PruneReport | null = null;

  constructor(
    private readonly ctx: DomainContext,
    private readonly opts: PrunerOptions = {},
  ) {
    this.batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
    this.maxBatches = opts.maxBatchesPerRun ?? DEFAULT_MAX_BATCHES;
    const intervalMs = opts.intervalMs ?? 300_000;
    // A run that stopped at its batch budget with more to remove is followed by the next one after a second, so a
    // store far behind (a first start on years of history) catches up without waiting.
    this.job = new PeriodicJob({
      intervalMs,
      run: () => this.runOnce().then((report) => this.finished(report)),
      nextDelayMs: (report) => (report.done ? intervalMs : CATCH_UP_MS),
      onError: (err) => opts.log?.error({ err }, 'retention run failed'),
    });
  }

  /** Runs every `intervalMs`. */
  start(): void {
    this.stopping = false;
    this.job.start();
  }

  /** The last finished run's report, null before the first. */
  get lastReport(): PruneReport | null {
    return this.last;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.job.stop();
  }

  /** One run over every company; tests call it directly. A run already going is joined, not doubled. */
  run(): Promise<PruneReport> {
    return this.job.run();
  }

  private finished(report: PruneReport): PruneReport {
    this.last = report;
    this.opts.onRun?.(report);
    return report;
  }

  private async runOnce(): Promise<PruneReport> {
    const began = performance.now();
    const timing: RunTiming = {
      batches: 0,
      batchMs: 0,
      maxBatchMs: 0,
      vacuumSteps: 0,
      vacuumMs: 0,
      maxVacuumStepMs: 0,
      totalMs: 0,
      steps: {
        feed: { transactions: 0, ms: 0 },
        held: { transactions: 0, ms: 0 },
        feedback: { transactions: 0, ms: 0 },
      },
    };
    const pruned: Record<PrunedTable, number> = {
      events: 0,
      deliveries: 0,
      attempts: 0,
      feedback_records: 0,
      shield_alert_keys: 0,
    };
    let batches = 0;
    let done = true;
    const companies: CompanyRow[] = await this.ctx.store.db
      .selectFrom('companies')
      .select(['id', 'plan', 'retention_days', 'retention_minutes', 'history_class'])
      .orderBy('id')
      .execute();
    await this.syncHistoryClasses(companies);
    const now = this.ctx.clock.now();
    const partitioned = this.ctx.store.profile.partitionedHistory;
    const windows: CompanyWindow[] = companies.map((c) => ({
      id: c.id,
      keepsSince: retentionCutoff(now, c),
      historyClass: Number(c.history_class),
    }));
    const attemptPartitions = partitioned
      ? await maintainHistoryPartitions(this.ctx.store.db, now, windows)
      : undefined;
    if (attemptPartitions) pruned.attempts += attemptPartitions.defaultRowsDeleted;
    companies: for (const company of companies) {
      const cutoff = retentionCutoff(this.ctx.clock.now(), company);
      const cls = Number(company.history_class);
      const steps: Array<[PruneStep, (after: string) => Promise<BatchResult & { next?: string }>]> = [
        ['feed', () => this.feedBatch(company.id, cutoff, cls)],
        ['held', (after) => this.heldBatch(company.id, after, cls)],
        ['feedback', () => this.feedbackBatch(company.id, cutoff)],
      ];
      for (const [name, step] of steps) {
        let after = '';
        for (;;) {
          if (this.stopping || batches >= this.maxBatches) {
            done = false;
            break companies;
          }
          const t0 = performance.now();
          const result = await step(after);
          const ms = performance.now() - t0;
          timing.batchMs += ms;
          timing.maxBatchMs = Math.max(timing.maxBatchMs, ms);
          timing.steps[name].transactions++;
          timing.steps[name].ms += ms;
          if (!result.idle) {
            batches++;
            timing.batches++;
          }
          for (const [table, n] of Object.entries(result.pruned)) pruned[table as PrunedTable] += n;
          await nextTurn();
          if (result.done) break;
          after = result.next ?? after;
        }
      }
    }
    // The delivered history's spans are dropped only after a run whose feed steps all reached their window's edge:
    // a feed step finds an event's attempts by its deliveries, and removes those of events that go (erasure could no
    // longer reach them through the event). Spans ahead are made by every run.
    const deliveryPartitions = partitioned
      ? await maintainHistoryPartitions(this.ctx.store.db, now, windows, DELIVERY_HISTORY, { drop: done })
      : undefined;
    if (deliveryPartitions) pruned.deliveries += deliveryPartitions.defaultRowsDeleted;
    await this.reclaimSpace(timing);
    const oldest = await this.oldestRows(companies);
    timing.totalMs = performance.now() - began;
    const partitions =
      attemptPartitions && deliveryPartitions
        ? { partitions: { attempts: attemptPartitions, deliveries: deliveryPartitions } }
        : {};
    return { pruned, done, oldest, timing, ...partitions };
  }

  /**
   * Keeps each company's retention class in step with its window (a plan changed, a company created since): attempt
   * rows are written with it. Only rows written afterwards follow; a window made shorter is still honoured for older
   * rows by the batches below, which remove attempts of any other class row by row.
   */
  private async syncHistoryClasses(companies: CompanyRow[]): Promise<void> {
    for (const c of companies) {
      const cls = historyClass(c);
      if (cls === Number(c.history_class)) continue;
      await this.ctx.store.db.updateTable('companies').set({ history_class: cls }).where('id', '=', c.id).execute();
      c.history_class = cls;
    }
  }

  /**
   * Moves the feed's start forward over the company's oldest events outside the window, removing their settled
   * deliveries with those deliveries' attempts, and the events themselves unless a complaint's timeline holds them
   * or a delivery of theirs is still unsettled.
   */
  private async feedBatch(companyId: string, cutoff: number, cls: number): Promise<BatchResult> {
    const now = this.ctx.clock.now();
    return inTransaction(this.ctx.store.db, async (tx) => {
      const start = await lockCompany(tx, companyId);
      const events = await tx
        .selectFrom('events')
        .select(['id', 'seq', 'created_at', 'complaint_id'])
        .where('company_id', '=', companyId)
        .where('seq', '>', start)
        .orderBy('seq')
        .limit(this.eventsPerBatch + 1)
        .execute();
      const expired = events.slice(
        0,
        ((i) => (i < 0 ? events.length : i))(events.findIndex((e) => Number(e.created_at) >= cutoff)),
      );
      if (!expired.length) return { pruned: {}, done: true, idle: true };
      const { profile } = this.ctx.store;
      const deliveries = await this.lockedDeliveries(
        tx,
        sql<boolean>`event_id in ${profile.batchValues(expired.map((e) => e.id))}
          and ${madeWithin(expired.map((e) => Number(e.created_at)))}`,
      );
      const byEvent = new Map<string, typeof deliveries>();
      for (const d of deliveries) byEvent.set(d.event_id, [...(byEvent.get(d.event_id) ?? []), d]);

      // Whole events, oldest first, while the batch's rows (event, deliveries, attempts) fit; at least one.
      let rows = 0;
      let taken = 0;
      for (const e of expired) {
        const cost = 1 + (byEvent.get(e.id) ?? []).reduce((n, d) => n + 1 + Number(d.attempt_count), 0);
        if (taken > 0 && rows + cost > this.batchRows) break;
        rows += cost;
        taken++;
      }
      const batch = expired.slice(0, taken);
      this.eventsPerBatch = Math.max(1, Math.min(this.batchRows, Math.floor((taken * this.batchRows) / rows)));
      const settled: DeliveryState[] = [];
      const ofTimeline = new Set<string>();
      const held: Array<{ delivery_id: string; company_id: string; event_id: string }> = [];
      const removable: string[] = [];
      for (const e of batch) {
        let keep = e.complaint_id !== null;
        for (const d of byEvent.get(e.id) ?? []) {
          if (isSettled(d, now)) {
            settled.push(d);
            if (e.complaint_id !== null) ofTimeline.add(d.id);
          } else {
            held.push({ delivery_id: d.id, company_id: companyId, event_id: e.id });
            keep = true;
          }
        }
        if (!keep) removable.push(e.id);
      }
      const pruned = await this.removeDeliveries(tx, settled, ofTimeline, cls);
      if (held.length)
        await tx
          .insertInto('retention_held')
          .values(held)
          .onConflict((oc) => oc.doNothing())
          .execute();
      if (removable.length) {
        const r = await tx
          .deleteFrom('events')
          .where(sql<boolean>`id in ${profile.batchValues(removable)}`)
          .executeTakeFirst();
        pruned.events = Number(r.numDeletedRows);
      }
      await tx
        .updateTable('companies')
        .set({ feed_start_seq: Number(batch[batch.length - 1].seq) })
        .where('id', '=', companyId)
        .execute();
      // Done when the window's edge (or the newest event) was reached within this batch.
      return { pruned, done: taken === expired.length && expired.length < events.length };
    });
  }

  /**
   * Removes deliveries held back while unsettled once they have settled, and their events when nothing holds them.
   * Held rows are looked at a window of `HELD_SCAN_ROWS` at a time in id order, with their deliveries' state, outside
   * any write transaction; only a window with settled ones opens one. Reading every held row inside write
   * transactions, a page at a time, made each run cost a transaction per page of held rows when a worker far behind
   * had left many; reading them all in one statement would hold the write lock for as long as that takes.
   */
  private async heldBatch(companyId: string, after: string, cls: number): Promise<BatchResult & { next?: string }> {
    const now = this.ctx.clock.now();
    const scanned = await this.ctx.store.db
      .selectFrom((eb) =>
        eb
          .selectFrom('retention_held')
          .select(['delivery_id', 'event_id'])
          .where('company_id', '=', companyId)
          .where('delivery_id', '>', after)
          .orderBy('delivery_id')
          .limit(HELD_SCAN_ROWS)
          .as('h'),
      )
      .leftJoin('deliveries as d', 'd.id', 'h.delivery_id')
      .select(['h.delivery_id', 'h.event_id', 'd.id as present', 'd.status', 'd.lease_until', 'd.attempt_count'])
      .orderBy('h.delivery_id')
      .execute();
    if (!scanned.length) return { pruned: {}, done: true, idle: true };
    const scannedTo = scanned[scanned.length - 1].delivery_id;
    const lastWindow = scanned.length < HELD_SCAN_ROWS;
    const candidates = scanned.filter(
      (r) => r.present === null || isSettled({ status: r.status ?? '', lease_until: r.lease_until }, now),
    );
    // As many as the batch's rows hold (the held row, the delivery, its attempts; at least one).
    let budget = 0;
    const held: Array<{ delivery_id: string; event_id: string }> = [];
    for (const r of candidates) {
      const cost = 1 + (r.present === null ? 0 : 1 + Number(r.attempt_count));
      if (held.length > 0 && budget + cost > this.batchRows) break;
      budget += cost;
      held.push({ delivery_id: r.delivery_id, event_id: r.event_id });
    }
    const moreInWindow = held.length < candidates.length;
    if (!held.length) return { pruned: {}, done: lastWindow, idle: true, next: scannedTo };
    return inTransaction(this.ctx.store.db, async (tx) => {
      await lockCompany(tx, companyId);
      // Their state is read again under the transaction (and locked on PostgreSQL): a resend may have come between.
      const deliveries = await this.lockedDeliveries(
        tx,
        sql<boolean>`id in ${this.ctx.store.profile.batchValues(held.map((h) => h.delivery_id))}`,
      );
      const live = new Map(deliveries.map((d) => [d.id, d]));
      // A settled delivery's attempts go with it; keep each batch within its rows (at least one delivery).
      let rows = 0;
      let budgetHit = false;
      const gone: typeof held = [];
      const settled: DeliveryState[] = [];
      for (const h of held) {
        const d = live.get(h.delivery_id);
        if (d && !isSettled(d, now)) continue;
        const cost = 1 + (d ? 1 + Number(d.attempt_count) : 0);
        if (gone.length > 0 && rows + cost > this.batchRows) {
          budgetHit = true;
          break;
        }
        rows += cost;
        gone.push(h);
        if (d) settled.push(d);
      }
      const { profile } = this.ctx.store;
      const timelineEvents = settled.length
        ? await tx
            .selectFrom('events')
            .select('id')
            .where(sql<boolean>`id in ${profile.batchValues([...new Set(settled.map((d) => d.event_id))])}`)
            .where('complaint_id', 'is not', null)
            .execute()
        : [];
      const kept = new Set(timelineEvents.map((e) => e.id));
      const ofTimeline = new Set(settled.filter((d) => kept.has(d.event_id)).map((d) => d.id));
      const pruned = await this.removeDeliveries(tx, settled, ofTimeline, cls);
      if (gone.length) {
        await tx
          .deleteFrom('retention_held')
          .where(sql<boolean>`delivery_id in ${profile.batchValues(gone.map((h) => h.delivery_id))}`)
          .execute();
        const r = await tx
          .deleteFrom('events')
          .where(sql<boolean>`id in ${profile.batchValues([...new Set(gone.map((h) => h.event_id))])}`)
          .where('complaint_id', 'is', null)
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('deliveries').select('id').whereRef('deliveries.event_id', '=', 'events.id'))),
          )
          .executeTakeFirst();
        pruned.events = Number(r.numDeletedRows);
      }
      // Over budget, the next batch goes on after the last one removed (or taken); otherwise after the window.
      if (budgetHit) return { pruned, done: false, next: gone[gone.length - 1].delivery_id };
      if (moreInWindow) return { pruned, done: false, next: held[held.length - 1].delivery_id };
      return { pruned, done: lastWindow, next: scannedTo };
    });
  }

  /**
   * Shield feedback records received before the window (none that a processor is scoring right now), and the keys
   * of alerts raised before it: the alert deliveries those keys kept from repeating are gone with their events.
   */
  private async feedbackBatch(companyId: string, cutoff: number): Promise<BatchResult> {
    const now = this.ctx.clock.now();
    return inTransaction(this.ctx.store.db, async (tx) => {
      const records = await tx
        .deleteFrom('feedback_records')
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('feedback_records')
            .select('id')
            .where('company_id', '=', companyId)
            .where('received_at', '<', cutoff)
            .where((w) => w.or([w('score_lease_until', 'is', null), w('score_lease_until', '<=', now)]))
            .orderBy('received_at')
            .limit(this.batchRows),
        )
        .executeTakeFirst();
      const keys = await tx
        .deleteFrom('shield_alert_keys')
        .where('key', 'in', (eb) =>
          eb
            .selectFrom('shield_alert_keys')
            .select('key')
            .where('company_id', '=', companyId)
            .where('created_at', '<', cutoff)
            .orderBy('created_at')
            .limit(this.batchRows),
        )
        .executeTakeFirst();
      const n = Number(records.numDeletedRows);
      const k = Number(keys.numDeletedRows);
      return {
        pruned: { feedback_records: n, shield_alert_keys: k },
        done: n < this.batchRows && k < this.batchRows,
        idle: n === 0 && k === 0,
      };
    });
  }

  /**
   * The deliveries `which` selects, the settled ones locked. On PostgreSQL a settled row another transaction holds
   * (a resend making it pending again) is skipped, not waited for, and comes back `busy`: kept this time. The step
   * never waits on a row lock, so it cannot deadlock with a worker or a resend that locks rows in another order.
   */
  private async lockedDeliveries(tx: Tx, which: ReturnType<typeof sql<boolean>>): Promise<DeliveryState[]> {
    const now = this.ctx.clock.now();
    const { profile } = this.ctx.store;
    const rows: DeliveryState[] = await tx.selectFrom('deliveries').select(DELIVERY_STATE).where(which).execute();
    const settled = rows.filter((r) => isSettled(r, now));
    if (!profile.rowLocks || !settled.length) return rows;
    const locked = await tx
      .selectFrom('deliveries')
      .select(DELIVERY_STATE)
      .where(byKey(profile, settled))
      .forUpdate()
      .skipLocked()
      .execute();
    const current = new Map(locked.map((r) => [r.id, r]));
    return rows.map((r) => (isSettled(r, now) ? (current.get(r.id) ?? { ...r, busy: true }) : r));
  }

  /**
   * Removes settled deliveries and their attempts. Where attempts are partitioned, the attempts of deliveries in
   * `ofTimeline` (deliveries of a complaint's event, whose row stays as the complaint's timeline) written in the
   * company's present class are left to the partition that holds them, which is dropped whole once its span is
   * outside the window; erasure finds them meanwhile by their event id. Attempts of the custom class, of another class
   * (the window changed since), of an event that goes now (nothing would lead erasure to them) or without an event id
   * (written before attempts carried one) go row by row.
   */
  private async removeDeliveries(
    tx: Tx,
    settled: readonly DeliveryState[],
    ofTimeline: ReadonlySet<string>,
    cls: number,
  ): Promise<Partial<Record<PrunedTable, number>>> {
    if (!settled.length) return {};
    const { profile } = this.ctx.store;
    const ids = settled.map((d) => d.id);
    let attempts = tx.deleteFrom('attempts').where(sql<boolean>`delivery_id in ${profile.batchValues(ids)}`);
    if (profile.partitionedHistory && cls !== 0) {
      const leftToPartition = ids.filter((id) => ofTimeline.has(id));
      attempts = attempts.where((w) =>
        w.or([
          w('keep_days', '<>', cls),
          w('event_id', 'is', null),
          ...(leftToPartition.length < ids.length
            ? [sql<boolean>`delivery_id not in ${profile.batchValues(leftToPartition)}`]
            : []),
        ]),
      );
    }
    const a = await attempts.executeTakeFirst();
    // Delivered rows of a complaint's event in the company's present class are left to their span, as their attempts
    // are: dropped whole once it is outside the window.
    const rowByRow = settled.filter(
      (d) =>
        !(
          profile.partitionedHistory &&
          cls !== 0 &&
          ofTimeline.has(d.id) &&
          d.status === 'success' &&
          Number(d.keep_days) === cls
        ),
    );
    if (!rowByRow.length) return { attempts: Number(a.numDeletedRows) };
    const d = await tx.deleteFrom('deliveries').where(byKey(profile, rowByRow)).executeTakeFirst();
    return { attempts: Number(a.numDeletedRows), deliveries: Number(d.numDeletedRows) };
  }

  /**
   * SQLite: gives pages freed by pruning back to the file system, a step at a time (PostgreSQL's autovacuum reclaims
   * space for reuse by itself). Only what is beyond a reserve: in steady state the rows arriving until the next run
   * fill the pages this run freed, and giving those back only to grow the file again cost the serving process a
   * write transaction per megabyte every run. The file shrinks when free space passes a quarter of it (a window
   * shortened, a first run over years of history), down to an eighth.
   */
  private async reclaimSpace(timing: RunTiming): Promise<void> {
    const { db, profile } = this.ctx.store;
    let size = await profile.storeSize(db);
    if (size.freeBytes <= size.bytes / 4) return;
    for (let step = 0; step < MAX_VACUUM_STEPS && !this.stopping; step++) {
      const t0 = performance.now();
      const more = await profile.reclaimSpace(db, VACUUM_PAGES_PER_STEP);
      const ms = performance.now() - t0;
      timing.vacuumSteps++;
      timing.vacuumMs += ms;
      timing.maxVacuumStepMs = Math.max(timing.maxVacuumStepMs, ms);
      if (!more) return;
      size = await profile.storeSize(db);
      if (size.freeBytes <= size.bytes / 8) return;
      await nextTurn();
    }
  }

  /** The oldest row per table, from each company's index (no scan of any table). */
  private async oldestRows(companies: CompanyRow[]): Promise<Record<AgedTable, number | null>> {
    const db = this.ctx.store.db;
    const oldest: Record<AgedTable, number | null> = { events: null, attempts: null, feedback_records: null };
    const keep = (table: AgedTable, t: number | null | undefined) => {
      if (t === null || t === undefined) return;
      const n = Number(t);
      oldest[table] = oldest[table] === null ? n : Math.min(oldest[table], n);
    };
    for (const c of companies) {
      // The feed's oldest event: a complaint's timeline keeps older event rows, which are its records, not history.
      keep('events', (await feedSummary(db, c.id)).oldestAt);
      const attempt = await db
        .selectFrom('attempts')
        .select((eb) => eb.fn.min('started_at').as('t'))
        .where('company_id', '=', c.id)
        .executeTakeFirst();
      keep('attempts', attempt?.t);
      const record = await db
        .selectFrom('feedback_records')
        .select((eb) => eb.fn.min('received_at').as('t'))
        .where('company_id', '=', c.id)
        .executeTakeFirst();
      keep('feedback_records', record?.t);
    }
    return oldest;
  }
}

/** Takes the company's row lock (as writing an event does) and reads where its feed starts. */
async function lockCompany(tx: Tx, companyId: string): Promise<number> {
  const row = await tx
    .updateTable('companies')
    .set({ feed_start_seq: sql<number>`feed_start_seq` })
    .where('id', '=', companyId)
    .returning('feed_start_seq')
    .executeTakeFirstOrThrow();
  return Number(row.feed_start_seq);
}

const DELIVERY_STATE = ['id', 'event_id', 'status', 'lease_until', 'attempt_count', 'keep_days', 'created_at'] as const;

/** These deliveries, by id and by the times they were made in. */
const byKey = (profile: DialectProfile, rows: ReadonlyArray<Pick<DeliveryState, 'id' | 'created_at'>>) =>
  sql<boolean>`id in ${profile.batchValues(rows.map((r) => r.id))} and ${madeWithin(rows.map((r) => Number(r.created_at)))}`;

interface DeliveryState {
  id: string;
  event_id: string;
  status: string;
  lease_until: number | null;
  attempt_count: number;
  keep_days: number;
  created_at: number;
  /** Locked by another transaction when the step looked: treated as unsettled. */
  busy?: boolean;
}

/** Settled: no retry is due (success or dead), no worker holds it, and no other transaction is changing it. */
function isSettled(d: Pick<DeliveryState, 'status' | 'lease_until' | 'busy'>, now: number): boolean {
  return (
    !d.busy &&
    (d.status === 'success' || d.status === 'dead') &&
    (d.lease_until === null || Number(d.lease_until) <= now)
  );
}
