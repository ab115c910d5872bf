import { sql } from 'kysely';
import { againIfRowsMoved, inTransaction, type Store, type Tx } from '../storage/db.js';
import { literalLimit } from '../storage/literal-limit.js';
import { IN_ORDER, readyAt, RECEIVER, receiverOf, SENT_BY_WORKERS, UNSETTLED, UNSETTLED_BY_ID } from './conditions.js';
import type { ClaimedDelivery, DeliveryRow, StoredEvent } from './delivery.js';

/** A place in the claim's walk over receivers: a company, then one of its receivers (empty strings: the start). */
export interface WalkPosition {
  company: string;
  receiver: string;
}

export const WALK_START: WalkPosition = { company: '', receiver: '' };

export interface ClaimOptions {
  now: number;
  limit: number;
  leaseMs: number;
  owner: string;
  /** Receivers that have enough already: their rows stay unclaimed for other receivers' (and workers') sake. */
  excludeReceivers: readonly string[];
  /** Companies that hold their share already: their rows stay unclaimed for other companies' sake. */
  excludeCompanies?: readonly string[];
  /** Rows of one company a claim takes at most (default: all of `limit`). */
  perCompany?: number;
  /** Rows of one receiver a claim takes at most (default: `perCompany`). */
  perReceiver?: number;
  /** Where the previous claim's walk stopped; this one starts after it (default: the start). */
  after?: WalkPosition;
}

export interface Claim {
  /** The leased rows, in due order, each with its event. */
  deliveries: ClaimedDelivery[];
  /** Where the walk stopped: the next claim starts after it, so receivers take turns across claims. */
  stoppedAt: WalkPosition;
}

interface Walk {
  receivers: string[];
  companies: string[];
  perCompany: number;
  perReceiver: number;
  after: WalkPosition;
}

/**
 * Claims up to `limit` due deliveries by writing a lease on them, in one short transaction; nothing is held while
 * sending.
 *
 * The claim walks receivers, not the due order: company by company, each company's receivers in turn (the index
 * `deliveries_due_by_receiver` holds unsettled rows by company, receiver and due time), taking each receiver's
 * earliest due rows (an ordered endpoint's only in order, IN_ORDER), at most `perReceiver` per receiver and
 * `perCompany` per company, starting after where the previous claim stopped and wrapping round. The caller holds only
 * so many rows per receiver: a claim that took a receiver's whole backlog leased rows only to give most of them back,
 * two writes per row for nothing, and left the company's other receivers out of that claim. A company or receiver
 * left out costs one index probe, whatever its backlog: walking the due order instead meant stepping over every row
 * of a company left out — half a million rows per claim behind one tenant's hanging endpoints — before reaching
 * anyone else's. A claim's cost grows with the receivers that have unsettled rows, not with the rows.
 */
export async function claim(store: Store, opts: ClaimOptions): Promise<Claim> {
  const after = opts.after ?? WALK_START;
  if (opts.limit <= 0) return { deliveries: [], stoppedAt: after };
  const leaseUntil = opts.now + opts.leaseMs;
  const perCompany = Math.max(1, Math.min(opts.perCompany ?? opts.limit, opts.limit));
  const walk: Walk = {
    receivers: [...opts.excludeReceivers],
    companies: [...(opts.excludeCompanies ?? [])],
    perCompany,
    perReceiver: Math.max(1, Math.min(opts.perReceiver ?? perCompany, perCompany)),
    after,
  };
  return store.profile.queueFunctions
    ? claimOnPostgres(store, opts, leaseUntil, walk)
    : claimOnSqlite(store, opts, leaseUntil, walk);
}

/**
 * SQLite: the walk, then the lease, in one transaction (one writer at a time, so nothing else can take the rows in
 * between); then the events are read. The walk's statements are index probes of a few microseconds each.
 */
async function claimOnSqlite(store: Store, opts: ClaimOptions, leaseUntil: number, walk: Walk): Promise<Claim> {
  const { db, profile } = store;
  const { ids, stoppedAt } = await db.transaction().execute(async (tx) => {
    const walked = await walkReceivers(tx, opts, walk);
    if (walked.ids.length === 0) return { ids: [] as DeliveryRow[], stoppedAt: walked.stoppedAt };
    const leased = await tx
      .updateTable('deliveries')
      .set({ lease_until: leaseUntil, lease_owner: opts.owner })
      .where(sql<boolean>`id in ${profile.batchValues(walked.ids)}`)
      .where(UNSETTLED_BY_ID)
      .returningAll()
      .execute();
    return { ids: leased, stoppedAt: walked.stoppedAt };
  });
  return { deliveries: await withEvents(store, ids), stoppedAt };
}

/** Leased rows with their events, in due order (SQLite reads the events after the lease's transaction). */
async function withEvents(store: Store, claimed: DeliveryRow[]): Promise<ClaimedDelivery[]> {
  if (claimed.length === 0) return [];
  const events = await store.db
    .selectFrom('events')
    .select(['id', 'name', 'body', 'created_at'])
    .where(sql<boolean>`id in ${store.profile.batchValues([...new Set(claimed.map((d) => d.event_id))])}`)
    .execute();
  const byId = new Map(events.map((e) => [e.id, { ...e, created_at: Number(e.created_at) }]));
  return claimed
    .sort((a, b) => (a.next_attempt_at ?? 0) - (b.next_attempt_at ?? 0))
    .map((delivery) => ({
      delivery,
      event: byId.get(delivery.event_id)!,
      receiver: receiverOf(delivery),
      company: delivery.company_id,
    }));
}

/**
 * The walk on SQLite, step for step the loop of `claim_due_deliveries` (pg-functions.ts): the next receiver of the
 * current company with unsettled rows (with its earliest due time), else the next company; wrap round once; stop
 * when `limit` rows are picked or the walk has come round past where it started (that receiver is visited last).
 */
async function walkReceivers(
  tx: Tx,
  opts: ClaimOptions,
  walk: Walk,
): Promise<{ ids: string[]; stoppedAt: WalkPosition }> {
  const excludedReceivers = new Set(walk.receivers);
  const excludedCompanies = new Set(walk.companies);
  const ids: string[] = [];
  let company = walk.after.company;
  let receiver = walk.after.receiver;
  let wrapped = false;
  let companyTaken = 0;
  for (;;) {
    let next: { receiver: string; first_due: number } | undefined;
    if (!excludedCompanies.has(company) && companyTaken < walk.perCompany) {
      const { rows } = await sql<{ receiver: string; first_due: number }>`
        select ${RECEIVER} as receiver, next_attempt_at as first_due from deliveries
        where ${UNSETTLED} and company_id = ${company} and ${RECEIVER} > ${receiver}
        order by ${RECEIVER}, next_attempt_at limit 1`.execute(tx);
      next = rows[0];
    }
    if (!next) {
      const { rows } = await sql<{ company_id: string }>`
        select company_id from deliveries where ${UNSETTLED} and company_id > ${company}
        order by company_id limit 1`.execute(tx);
      if (!rows[0]) {
        if (wrapped) break;
        wrapped = true;
        company = '';
      } else company = rows[0].company_id;
      receiver = '';
      companyTaken = 0;
      continue;
    }
    receiver = next.receiver;
    if (wrapped && isBefore(walk.after, { company, receiver })) break;
    if (next.first_due <= opts.now && !excludedReceivers.has(receiver)) {
      const { rows } = await sql<{ id: string }>`
        select id from deliveries
        where ${UNSETTLED} and company_id = ${company} and ${RECEIVER} = ${receiver} and ${readyAt(opts.now)}
          and ${SENT_BY_WORKERS} and ${IN_ORDER}
        order by next_attempt_at
        ${literalLimit(Math.min(opts.limit - ids.length, walk.perCompany - companyTaken, walk.perReceiver))}`.execute(
        tx,
      );
      for (const r of rows) ids.push(r.id);
      companyTaken += rows.length;
      if (ids.length >= opts.limit) break;
    }
  }
  return { ids, stoppedAt: { company, receiver } };
}

/** Whether `a` comes before `b` in the walk's order (company, then receiver). */
function isBefore(a: WalkPosition, b: WalkPosition): boolean {
  return a.company < b.company || (a.company === b.company && a.receiver < b.receiver);
}

/**
 * PostgreSQL: walk, lease and read the events in one call of `claim_due_deliveries` (pg-functions.ts), so a claim
 * costs one round trip; SKIP LOCKED inside keeps concurrent workers on disjoint rows. SKIP LOCKED skips a row another
 * transaction holds, not one it moved to the settled partition and committed since the call's snapshot (a late
 * settle of a row whose lease ran out): that call is refused and runs again.
 */
async function claimOnPostgres(store: Store, opts: ClaimOptions, leaseUntil: number, walk: Walk): Promise<Claim> {
  const { rows } = await againIfRowsMoved(() =>
    sql<{
      delivery: DeliveryRow;
      event_name: string;
      event_body: string | null;
      event_created_at: number;
      walk_company: string;
      walk_receiver: string;
    }>`
    select delivery, event_name, event_body, event_created_at, walk_company, walk_receiver
    from claim_due_deliveries(${opts.now}, ${opts.limit}, ${leaseUntil}, ${opts.owner},
      ${walk.receivers.length ? walk.receivers : ['-']}::text[], ${walk.companies.length ? walk.companies : ['-']}::text[],
      ${walk.perCompany}, ${walk.perReceiver}, ${walk.after.company}, ${walk.after.receiver})`.execute(store.db),
  );
  // Each event's body comes once per claim, on one of its deliveries' rows.
  const events = new Map<string, StoredEvent>();
  for (const { delivery, event_name, event_body, event_created_at } of rows) {
    if (event_body !== null)
      events.set(delivery.event_id, {
        id: delivery.event_id,
        name: event_name,
        body: event_body,
        created_at: Number(event_created_at),
      });
  }
  const deliveries = rows.map(({ delivery }) => ({
    delivery,
    event: events.get(delivery.event_id)!,
    receiver: receiverOf(delivery),
    company: delivery.company_id,
  }));
  // A claim that took nothing walked every receiver: where it stopped does not matter.
  const last = rows.at(-1);
  return { deliveries, stoppedAt: last ? { company: last.walk_company, receiver: last.walk_receiver } : walk.after };
}

export interface EndpointClaimOptions {
  endpointId: string;
  now: number;
  limit: number;
  leaseMs: number;
  owner: string;
}

/**
 * Claims up to `limit` due deliveries of one endpoint, in due order, whatever their target: the claim of a
 * listener's connection for its development endpoint, whose rows the workers leave alone (SENT_BY_WORKERS). The same
 * due condition and lease as a worker's claim, so a row whose lease runs out (a dropped connection) comes back.
 */
export async function claimForEndpoint(store: Store, opts: EndpointClaimOptions): Promise<ClaimedDelivery[]> {
  const { db, profile } = store;
  const claimed = await inTransaction(db, async (tx) => {
    const lock = profile.rowLocks ? sql`for update skip locked` : sql``;
    const picked = await sql<{ id: string }>`
      select id from deliveries
      where endpoint_id = ${opts.endpointId} and ${UNSETTLED} and ${readyAt(opts.now)}
      order by next_attempt_at
      ${literalLimit(opts.limit)} ${lock}`.execute(tx);
    const ids = picked.rows.map((r) => r.id);
    if (ids.length === 0) return [];
    return tx
      .updateTable('deliveries')
      .set({ lease_until: opts.now + opts.leaseMs, lease_owner: opts.owner })
      .where('id', 'in', ids)
      .where(UNSETTLED_BY_ID)
      .returningAll()
      .execute();
  });
  return withEvents(store, claimed);
}
