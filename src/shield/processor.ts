import type { Logger } from 'pino';
import { transact, type DomainContext, type Work } from '../domain/context.js';
import { buildAlertPayload, emitShieldAlert } from './alerts.js';
import { loadActiveAutomations, matchesFilter, type ActiveAutomation } from './automations.js';
import type { FeedbackRow } from './feedback.js';
import { HISTORY_MAX, type ScoredRecord } from './scoring/batch.js';
import { escalationAtSensitivity, type ScoreResult } from './scoring/score.js';
import type { WakeSubscription } from '../queue/wakeup.js';
import type { Db } from '../storage/db.js';
import { sharedScoringPool, type ScoringPool } from './scoring-pool.js';

/** Records per scoring task: small enough that another company's batch never waits long for a thread. */
const BATCH = 25;
/** Records of one company being scored at once, unless configured. */
const COMPANY_IN_FLIGHT = 100;
/** Longer than any batch takes; a crashed processor's records become claimable again after it. */
const LEASE_MS = 5 * 60_000;
/** Companies looked at per claim; the others wait for the next one. */
const CLAIM_COMPANIES = 50;
const MAX_ROUNDS = 1000;

export interface ProcessorOptions {
  log?: Logger;
  /** Safety net under the wake-ups: finds records whose wake-up was missed (a LISTEN connection being re-made). */
  intervalMs?: number;
  batchSize?: number;
  /** Records of one company being scored at once by this processor. */
  companyInFlight?: number;
  /** The threads that score; a process-wide pool when absent. */
  pool?: ScoringPool;
}

export interface PassResult {
  scored: number;
  alerts: number;
}

interface CompanyAutomations {
  code: string;
  automations: ActiveAutomation[];
}

interface Batch {
  companyId: string;
  rows: FeedbackRow[];
}

/**
 * Scores stored feedback in the background and raises alerts, with the CPU work in worker threads.
 *
 * Records are claimed per company with a lease (`score_lease_until`, set by one conditional update; SKIP LOCKED on
 * PostgreSQL), so processors take disjoint records, and a thread's later records wait while earlier ones are being
 * scored. Companies take turns: each claim serves the company served longest ago first, and no company has more than
 * `companyInFlight` records being scored, so one company's flood delays another's records by a batch or two, not by
 * the whole flood. Scores, levels and every alert of a batch commit in one short transaction after scoring (the
 * conditional `scored_at is null` keeps each record scored — and alerting — once); a crash leaves the records
 * unscored, never scored-without-alert.
 */
export class ShieldProcessor {
  private timer: NodeJS.Timeout | null = null;
  private subscription: WakeSubscription | null = null;
  private current: Promise<PassResult> | null = null;
  private queued: Promise<PassResult> | null = null;
  private readonly log?: Logger;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly companyInFlight: number;
  private readonly pool: ScoringPool;
  /** Records being scored, per company. */
  private readonly inFlight = new Map<string, number>();
  /** When each company was last served (a counter), for the turn order. */
  private readonly served = new Map<string, number>();
  private turn = 0;
  /** Set by stop(): a pass under way claims nothing more and ends when its batches in flight do. */
  private stopping = false;

  constructor(
    private readonly ctx: DomainContext,
    opts: ProcessorOptions = {},
  ) {
    this.log = opts.log;
    this.intervalMs = opts.intervalMs ?? 2_000;
    this.batchSize = opts.batchSize ?? BATCH;
    this.companyInFlight = opts.companyInFlight ?? COMPANY_IN_FLIGHT;
    this.pool = opts.pool ?? sharedScoringPool();
  }

  start(): void {
    if (this.timer) return;
    this.stopping = false;
    this.subscription = this.ctx.wakeups.subscribe('feedback', () => this.wake());
    this.timer = setInterval(() => this.wake(), this.intervalMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.subscription?.close();
    this.subscription = null;
    await this.queued?.catch(() => undefined);
    await this.current?.catch(() => undefined);
  }

  /** New records may be waiting: score them soon, without blocking the caller. */
  wake(): void {
    void this.tick().catch((err) => this.log?.error({ err }, 'shield processor pass failed'));
  }

  /**
   * Scores everything unscored now and resolves when done. A call during a pass queues exactly one more pass after
   * it (records stored meanwhile are not missed); further calls share that queued pass. Tests call this directly.
   */
  tick(): Promise<PassResult> {
    if (this.queued) return this.queued;
    if (this.current) {
      this.queued = this.current
        .catch(() => undefined)
        .then(() => {
          this.queued = null;
          return this.run();
        });
      return this.queued;
    }
    return this.run();
  }

  private run(): Promise<PassResult> {
    this.current = this.pass().finally(() => (this.current = null));
    return this.current;
  }

  /**
   * Keeps the threads busy (two batches per thread, so the next is ready when one ends) until nothing claimable is
   * left. Bounded, so a pass ends even while records keep arriving; the next wake-up continues.
   */
  private async pass(): Promise<PassResult> {
    const total: PassResult = { scored: 0, alerts: 0 };
    const slots = this.pool.threads * 2;
    const running = new Set<Promise<void>>();
    let claiming = true;
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        if (claiming && !this.stopping && running.size < slots) {
          let batches: Batch[] = [];
          try {
            batches = await this.claim(slots - running.size);
          } catch (err) {
            // On SQLite another handle may hold the write lock; the rows stay unscored for the next pass.
            if (!this.ctx.store.profile.isUnavailable(err)) throw err;
            this.log?.warn({ err }, 'shield processor: store busy, will retry');
            claiming = false;
          }
          for (const batch of batches) {
            const job = this.scoreAndStore(batch).then(
              (done) => {
                total.scored += done.scored;
                total.alerts += done.alerts;
              },
              (err) => {
                // The batch's records were released (or their lease ends); stop claiming until the next pass.
                claiming = false;
                this.log?.error({ err, company_id: batch.companyId }, 'shield processor: a batch failed');
              },
            );
            const tracked = job.finally(() => running.delete(tracked));
            running.add(tracked);
          }
        }
        if (running.size === 0) break;
        await Promise.race(running);
      }
    } finally {
      await Promise.all(running);
    }
    if (total.scored) this.log?.info(total, 'shield feedback scored');
    return total;
  }

  /**
   * Claims up to `max` batches: companies with claimable records, the one served longest ago first, round after
   * round while there is room, each within its in-flight quota.
   */
  private async claim(max: number): Promise<Batch[]> {
    const now = this.ctx.clock.now();
    const waiting = await companiesWaiting(this.ctx.store.db, now).execute();
    const order = waiting
      .map((w) => w.company_id)
      .sort((a, b) => (this.served.get(a) ?? -1) - (this.served.get(b) ?? -1));
    const exhausted = new Set<string>();
    const batches: Batch[] = [];
    for (let progress = true; progress && batches.length < max;) {
      progress = false;
      for (const companyId of order) {
        if (batches.length >= max) break;
        const room = Math.min(this.batchSize, this.companyInFlight - (this.inFlight.get(companyId) ?? 0));
        if (room <= 0 || exhausted.has(companyId)) continue;
        const rows = await this.claimRows(companyId, room, now);
        if (rows.length < room) exhausted.add(companyId);
        if (rows.length === 0) continue;
        this.inFlight.set(companyId, (this.inFlight.get(companyId) ?? 0) + rows.length);
        this.served.set(companyId, ++this.turn);
        batches.push({ companyId, rows });
        progress = true;
      }
    }
    return batches;
  }

  /**
   * Leases one company's oldest claimable records. A thread with records being scored is left out, so its later
   * records are scored after (and compared with) the earlier ones.
   */
  private async claimRows(companyId: string, limit: number, now: number): Promise<FeedbackRow[]> {
    const db = this.ctx.store.db;
    let pick = db
      .selectFrom('feedback_records')
      .select('id')
      .where('company_id', '=', companyId)
      .where('scored_at', 'is', null)
      .where((eb) => eb.or([eb('score_lease_until', 'is', null), eb('score_lease_until', '<=', now)]))
      .where((eb) =>
        eb.or([
          eb('thread_id', 'is', null),
          eb(
            'thread_id',
            'not in',
            eb
              .selectFrom('feedback_records as busy')
              .select('busy.thread_id')
              .where('busy.company_id', '=', companyId)
              .where('busy.scored_at', 'is', null)
              .where('busy.score_lease_until', '>', now)
              .where('busy.thread_id', 'is not', null),
          ),
        ]),
      )
      .orderBy('received_at')
      .orderBy('id')
      .limit(limit);
    if (this.ctx.store.profile.skipLocked) pick = pick.forUpdate().skipLocked();
    const rows = await db
      .updateTable('feedback_records')
      .set({ score_lease_until: now + LEASE_MS })
      .where('id', 'in', pick)
      .returningAll()
      .execute();
    return rows.sort((a, b) => a.received_at - b.received_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Scores one batch in a thread, then stores the scores and alerts in one transaction. */
  private async scoreAndStore(batch: Batch): Promise<PassResult> {
    try {
      const histories = await this.histories(batch);
      const results = await this.pool.score({
        records: batch.rows.map((r) => ({ content: r.content, thread: r.thread_id })),
        histories,
      });
      return await transact(this.ctx, (work) => this.store(work, batch, results));
    } catch (err) {
      await this.release(batch).catch(() => undefined);
      throw err;
    } finally {
      const left = (this.inFlight.get(batch.companyId) ?? 0) - batch.rows.length;
      if (left > 0) this.inFlight.set(batch.companyId, left);
      else this.inFlight.delete(batch.companyId);
    }
  }

  /** Gives a failed batch's records back at once instead of when their lease ends. */
  private async release(batch: Batch): Promise<void> {
    await this.ctx.store.db
      .updateTable('feedback_records')
      .set({ score_lease_until: null })
      .where(
        'id',
        'in',
        batch.rows.map((r) => r.id),
      )
      .where('scored_at', 'is', null)
      .execute();
  }

  /** Per thread of the batch: sentiments of its records scored before the batch's first one, oldest first. */
  private async histories(batch: Batch): Promise<Record<string, number[]>> {
    const first = new Map<string, FeedbackRow>();
    for (const row of batch.rows) if (row.thread_id && !first.has(row.thread_id)) first.set(row.thread_id, row);
    const histories: Record<string, number[]> = {};
    for (const [thread, row] of first) {
      const earlier = await this.ctx.store.db
        .selectFrom('feedback_records')
        .select(['sentiment_score'])
        .where('company_id', '=', row.company_id)
        .where('thread_id', '=', thread)
        .where('scored_at', 'is not', null)
        .where('sentiment_score', 'is not', null)
        .where((eb) =>
          eb.or([
            eb('received_at', '<', row.received_at),
            eb.and([eb('received_at', '=', row.received_at), eb('id', '<', row.id)]),
          ]),
        )
        .orderBy('received_at', 'desc')
        .orderBy('id', 'desc')
        .limit(HISTORY_MAX)
        .execute();
      histories[thread] = earlier.reverse().map((r) => r.sentiment_score as number);
    }
    return histories;
  }

  /** Stores each record's score, if no other processor did first, and raises its alerts. */
  private async store(work: Work, batch: Batch, results: ScoredRecord[]): Promise<PassResult> {
    const companies = new Map<string, CompanyAutomations>();
    const done: PassResult = { scored: 0, alerts: 0 };
    for (const [i, row] of batch.rows.entries()) {
      const result = results[i];
      const score = result.ok ? result.score : null;
      const claimed = await work.tx
        .updateTable('feedback_records')
        .set({
          scored_at: work.now,
          score_lease_until: null,
          escalation_level: score?.escalation_level ?? null,
          emotional_intensity_level: score?.emotional_intensity_level ?? null,
          sentiment_score: score?.sentiment ?? null,
          sentiment_shift: score?.sentiment_shift ?? null,
          cues: JSON.stringify(score ? score.cues : ['scoring_failed']),
          explanation: score
            ? JSON.stringify({ signals: score.signals, escalation_logits: score.escalation_logits })
            : null,
        })
        .where('id', '=', row.id)
        .where('scored_at', 'is', null)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      if (!result.ok) {
        this.log?.error({ err: result.error, feedback_id: row.id }, 'shield scoring failed for a record');
        continue;
      }
      done.scored++;
      done.alerts += await this.alert(work, row, result.score, companies);
    }
    return done;
  }

  /** Raises one alert per matching active automation; returns how many were written. */
  private async alert(
    work: Work,
    row: FeedbackRow,
    score: ScoreResult,
    cache: Map<string, CompanyAutomations>,
  ): Promise<number> {
    let company = cache.get(row.company_id);
    if (!company) {
      const found = await work.tx
        .selectFrom('companies')
        .select('code')
        .where('id', '=', row.company_id)
        .executeTakeFirst();
      company = {
        code: found?.code ?? '',
        automations: found ? await loadActiveAutomations(work.tx, row.company_id) : [],
      };
      cache.set(row.company_id, company);
    }
    let written = 0;
    for (const automation of company.automations) {
      // The automation's sensitivity moves the point at which the model's scores become a level.
      const level = escalationAtSensitivity(score.escalation_level, score.escalation_logits, automation.sensitivity);
      if (!matchesFilter(automation.filter, { source: row.source, content: row.content, escalationLevel: level }))
        continue;
      const payload = buildAlertPayload(
        this.ctx,
        automation.id,
        company.code,
        {
          recordId: row.record_id,
          source: row.source,
          sourceUrl: row.source_url,
          content: row.content,
          sourceCreatedAt: row.source_created_at,
          escalationLevel: score.escalation_level,
          emotionalIntensityLevel: score.emotional_intensity_level,
          sentimentShift: score.sentiment_shift ?? null,
        },
        work.now,
        { sensitivity: automation.sensitivity, escalation_level: level, signals: score.signals },
      );
      if (await emitShieldAlert(this.ctx, work, row.company_id, automation, payload)) written++;
    }
    return written;
  }
}

/**
 * Companies with claimable records, the longest waiting first. Read from the unscored records' index alone
 * (migration 0055): a backlog of large records costs index entries here, not their text.
 */
export function companiesWaiting(db: Db, now: number) {
  return db
    .selectFrom('feedback_records')
    .select(['company_id', (eb) => eb.fn.min('received_at').as('oldest')])
    .where('scored_at', 'is', null)
    .where((eb) => eb.or([eb('score_lease_until', 'is', null), eb('score_lease_until', '<=', now)]))
    .groupBy('company_id')
    .orderBy('oldest')
    .limit(CLAIM_COMPANIES);
}
