import type { Logger } from 'pino';
import { transact, type DomainContext, type Work } from '../domain/context.js';
import { buildAlertPayload, emitShieldAlert } from './alerts.js';
import { loadActiveAutomations, matchesFilter, type ActiveAutomation } from './automations.js';
import type { FeedbackRow } from './feedback.js';
import { scoreFeedback } from './scoring/score.js';
import type { ScoreResult } from './scoring/score.js';
import type { WakeSubscription } from '../queue/wakeup.js';

const BATCH = 100;
const MAX_ROUNDS = 100;
// sentiment_shift compares with the last few records of the thread; more history would not change it.
const HISTORY_MAX = 20;

export interface ProcessorOptions {
  log?: Logger;
  /** Safety net under the wake-ups: finds records whose wake-up was missed (a LISTEN connection being re-made). */
  intervalMs?: number;
  batchSize?: number;
}

export interface PassResult {
  scored: number;
  alerts: number;
}

interface CompanyAutomations {
  code: string;
  automations: ActiveAutomation[];
}

/**
 * Scores stored feedback in the background and raises alerts. A record is claimed by a conditional update
 * (`scored_at is null`), so with several processors on one database each record is scored — and alerts — once; on
 * PostgreSQL the batch is picked with SKIP LOCKED so processors take disjoint rows instead of queueing on each other.
 * Scoring, the levels, and every alert of a record commit together: a crash leaves the record unscored, never
 * scored-without-alert.
 */
export class ShieldProcessor {
  private timer: NodeJS.Timeout | null = null;
  private subscription: WakeSubscription | null = null;
  private current: Promise<PassResult> | null = null;
  private queued: Promise<PassResult> | null = null;
  private readonly log?: Logger;
  private readonly intervalMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly ctx: DomainContext,
    opts: ProcessorOptions = {},
  ) {
    this.log = opts.log;
    this.intervalMs = opts.intervalMs ?? 2_000;
    this.batchSize = opts.batchSize ?? BATCH;
  }

  start(): void {
    if (this.timer) return;
    this.subscription = this.ctx.wakeups.subscribe('feedback', () => this.wake());
    this.timer = setInterval(() => this.wake(), this.intervalMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
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

  private async pass(): Promise<PassResult> {
    const total: PassResult = { scored: 0, alerts: 0 };
    // Bounded, so a pass ends even while records keep arriving; the next wake-up continues.
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let batch;
      try {
        batch = await transact(this.ctx, (work) => this.scoreBatch(work));
      } catch (err) {
        // On SQLite another handle may hold the write lock; the rows stay unscored for the next pass.
        if (!this.ctx.store.profile.isUnavailable(err)) throw err;
        this.log?.warn({ err }, 'shield processor: store busy, will retry');
        break;
      }
      total.scored += batch.scored;
      total.alerts += batch.alerts;
      if (batch.seen < this.batchSize || batch.scored === 0) break;
    }
    if (total.scored) this.log?.info(total, 'shield feedback scored');
    return total;
  }

  private async scoreBatch(work: Work): Promise<PassResult & { seen: number }> {
    const { tx } = work;
    let pick = tx
      .selectFrom('feedback_records')
      .selectAll()
      .where('scored_at', 'is', null)
      .orderBy('received_at')
      .orderBy('id')
      .limit(this.batchSize);
    if (this.ctx.store.profile.skipLocked) pick = pick.forUpdate().skipLocked();
    const rows = await pick.execute();
    const companies = new Map<string, CompanyAutomations>();
    let scored = 0;
    let alerts = 0;
    for (const row of rows) {
      const score = await this.score(work, row);
      if (!score) continue;
      scored++;
      alerts += await this.alert(work, row, score, companies);
    }
    return { seen: rows.length, scored, alerts };
  }

  /** Scores one record and stores the result, if no other processor did first; null when it lost the claim. */
  private async score(work: Work, row: FeedbackRow): Promise<ScoreResult | null> {
    let result: ScoreResult | null = null;
    let failure: unknown = null;
    try {
      result = scoreFeedback({ content: row.content, history: await this.history(work, row) });
    } catch (err) {
      // One record the scorer cannot handle must not block every record behind it.
      failure = err;
    }
    const claimed = await work.tx
      .updateTable('feedback_records')
      .set({
        scored_at: work.now,
        escalation_level: result?.escalation_level ?? null,
        emotional_intensity_level: result?.emotional_intensity_level ?? null,
        sentiment_score: result?.sentiment ?? null,
        sentiment_shift: result?.sentiment_shift ?? null,
        cues: JSON.stringify(result ? result.cues : ['scoring_failed']),
      })
      .where('id', '=', row.id)
      .where('scored_at', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return null;
    if (failure) this.log?.error({ err: failure, feedback_id: row.id }, 'shield scoring failed for a record');
    return result;
  }

  /** Sentiments of the same thread's earlier scored records, oldest first. */
  private async history(work: Work, row: FeedbackRow): Promise<{ sentiment: number }[]> {
    if (!row.thread_id) return [];
    const earlier = await work.tx
      .selectFrom('feedback_records')
      .select(['sentiment_score'])
      .where('company_id', '=', row.company_id)
      .where('thread_id', '=', row.thread_id)
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
    return earlier.reverse().map((r) => ({ sentiment: r.sentiment_score as number }));
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
      if (
        !matchesFilter(automation.filter, {
          source: row.source,
          content: row.content,
          escalationLevel: score.escalation_level,
        })
      )
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
      );
      if (await emitShieldAlert(this.ctx, work, row.company_id, automation, payload)) written++;
    }
    return written;
  }
}
