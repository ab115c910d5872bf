import { performance } from 'node:perf_hooks';

/** What the scheduler needs of a claimed row: whose it is and where it goes. */
export interface Scheduled {
  /** The company the row belongs to. */
  company: string;
  /** Its endpoint or Shield destination. */
  receiver: string;
}

export interface FairQueuesOptions {
  /** Attempts in flight for one company at most, whatever its receivers' limits add up to. */
  companyCap: number;
  /** A receiver's in-flight limit now (adaptive: narrowed receivers get fewer). */
  receiverLimit: (receiver: string) => number;
  /** Rows held (waiting and sending) per receiver and per company, in multiples of their in-flight limit. */
  heldPerSlot: number;
  /** Rows one claim takes of a receiver and of a company, in multiples of their in-flight limit (below heldPerSlot). */
  claimPerSlot: number;
  /** The time in ms for stall detection (default: `performance.now`). */
  now?: () => number;
}

interface CompanyQueues<T> {
  /** Rows waiting for a slot, per receiver, in claim order; the map's order is the receivers' turn order. */
  receivers: Map<string, T[]>;
  waiting: number;
  sending: number;
}

/**
 * The worker's claimed rows and its attempts in flight, scheduled fairly: companies in turn first (round robin with
 * one slot per turn: every company with a startable row gets the next free slot before any company gets a second),
 * then the receivers of the company whose turn it is, in turn. A company holds at most `companyCap` attempts in
 * flight and each receiver at most its current limit, so a company's backlog, or its slow or dead receivers, take at
 * most its share of the worker's slots while other companies wait, and one receiver's backlog cannot starve its
 * company's other receivers.
 *
 * It also bounds what the worker claims: rows beyond a receiver's or a company's held share are given back, and
 * receivers and companies with enough rows waiting are left out of the next claim, their rows left for other
 * companies and other workers.
 */
export class FairQueues<T extends Scheduled> {
  /** Companies with rows waiting or sending; the map's order is the companies' turn order. */
  private readonly companies = new Map<string, CompanyQueues<T>>();
  /** Attempts in flight per receiver (absent: none). */
  private readonly sendingTo = new Map<string, number>();
  /** When an attempt of each receiver with attempts in flight last began or ended. */
  private readonly movedAt = new Map<string, number>();
  /** Receivers found stalled, until one of their attempts ends. */
  private readonly stalledReceivers = new Set<string>();
  private waitingTotal = 0;
  private readonly now: () => number;

  constructor(private readonly opts: FairQueuesOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Rows claimed and waiting for a slot. */
  get waitingCount(): number {
    return this.waitingTotal;
  }

  /** Whether any receiver has an attempt in flight. */
  get anySending(): boolean {
    return this.sendingTo.size > 0;
  }

  /** Rows a company may hold, waiting and sending. */
  get companyHeldMax(): number {
    return this.opts.companyCap * this.opts.heldPerSlot;
  }

  private receiverHeldMax(receiver: string): number {
    return this.opts.receiverLimit(receiver) * this.opts.heldPerSlot;
  }

  private receiverHeld(company: CompanyQueues<T> | undefined, receiver: string): number {
    return (company?.receivers.get(receiver)?.length ?? 0) + (this.sendingTo.get(receiver) ?? 0);
  }

  /** Attempts in flight for this company. */
  sendingFor(company: string): number {
    return this.companies.get(company)?.sending ?? 0;
  }

  /** Rows a claim takes at most of a receiver or a company whose in-flight limit is `limit`. */
  claimRowsFor(limit: number): number {
    return limit * this.opts.claimPerSlot;
  }

  /** Rows of one company a claim takes at most. */
  get companyClaimMax(): number {
    return this.claimRowsFor(this.opts.companyCap);
  }

  /** Rows of one receiver a claim takes at most, at its current limit. */
  private receiverClaimMax(receiver: string): number {
    return this.claimRowsFor(this.opts.receiverLimit(receiver));
  }

  /**
   * Receivers and companies to leave out of the next claim: those with a limit's worth of rows already waiting, and
   * those without room in their held share for what a claim takes of them (`companyClaimMax` of a company,
   * `receiverClaimMax` of a receiver: the claim is told both, so what it brings back fits). Without the first, a
   * receiver that hangs (its rows pile up at the front of the due order) came back into every claim as soon as one of
   * its attempts ended, and each such claim was mostly its rows, given straight back. The second matters once a
   * receiver is narrowed with more in flight than its new limit: claimed for, its rows would be given straight back.
   */
  saturated(): { receivers: string[]; companies: string[] } {
    const receivers = new Set<string>();
    const companies: string[] = [];
    for (const [id, c] of this.companies) {
      if (c.waiting >= this.opts.companyCap || c.waiting + c.sending > this.companyHeldMax - this.companyClaimMax)
        companies.push(id);
      for (const [receiver, queue] of c.receivers) {
        if (
          queue.length >= this.opts.receiverLimit(receiver) ||
          this.receiverHeld(c, receiver) > this.receiverHeldMax(receiver) - this.receiverClaimMax(receiver)
        )
          receivers.add(receiver);
      }
    }
    // Receivers with nothing waiting but more in flight than leaves room in their (since narrowed) share.
    for (const [receiver, n] of this.sendingTo)
      if (n > this.receiverHeldMax(receiver) - this.receiverClaimMax(receiver)) receivers.add(receiver);
    for (const receiver of this.stalledReceivers) receivers.add(receiver);
    return { receivers: [...receivers], companies };
  }

  /** Splits a claim into the rows each receiver's and company's share has room for and the excess, to be given back. */
  split(claimed: readonly T[]): { kept: T[]; excess: T[] } {
    const kept: T[] = [];
    const excess: T[] = [];
    const byReceiver = new Map<string, number>();
    const byCompany = new Map<string, number>();
    for (const item of claimed) {
      const c = this.companies.get(item.company);
      const r = byReceiver.get(item.receiver) ?? this.receiverHeld(c, item.receiver);
      const n = byCompany.get(item.company) ?? (c ? c.waiting + c.sending : 0);
      if (
        r >= this.receiverHeldMax(item.receiver) ||
        n >= this.companyHeldMax ||
        this.stalledReceivers.has(item.receiver)
      ) {
        excess.push(item);
        continue;
      }
      byReceiver.set(item.receiver, r + 1);
      byCompany.set(item.company, n + 1);
      kept.push(item);
    }
    return { kept, excess };
  }

  private company(id: string): CompanyQueues<T> {
    let c = this.companies.get(id);
    if (!c) {
      c = { receivers: new Map(), waiting: 0, sending: 0 };
      this.companies.set(id, c);
    }
    return c;
  }

  /** Queues claimed rows behind their receivers' waiting rows. */
  add(items: readonly T[]): void {
    for (const item of items) {
      const c = this.company(item.company);
      const queue = c.receivers.get(item.receiver);
      if (queue) queue.push(item);
      else c.receivers.set(item.receiver, [item]);
      c.waiting++;
    }
    this.waitingTotal += items.length;
  }

  /** Waiting rows the next free slots could start: within their receivers' limits and their companies' caps. */
  startable(): number {
    let n = 0;
    for (const c of this.companies.values()) {
      let company = 0;
      for (const [receiver, queue] of c.receivers)
        company += Math.min(
          queue.length,
          Math.max(0, this.opts.receiverLimit(receiver) - (this.sendingTo.get(receiver) ?? 0)),
        );
      n += Math.min(company, Math.max(0, this.opts.companyCap - c.sending));
    }
    return n;
  }

  /** The next row of this company whose receiver is below its limit, its receiver sent to the back of the turn. */
  private next(c: CompanyQueues<T>): T | null {
    for (const [receiver, queue] of c.receivers) {
      if ((this.sendingTo.get(receiver) ?? 0) >= this.opts.receiverLimit(receiver)) continue;
      const item = queue.shift()!;
      c.receivers.delete(receiver);
      if (queue.length) c.receivers.set(receiver, queue);
      c.waiting--;
      this.waitingTotal--;
      return item;
    }
    return null;
  }

  /**
   * Takes waiting rows while `slotFree()`, one per company per turn, companies in turn, then that company's receivers
   * in turn, skipping companies at their cap and receivers at their limit. `start` is called with each row and
   * returns false for a row it gave up on instead (it does not count as sending). A company served goes to the back
   * of the turn order, so the next free slot goes to the next company. Returns how many started.
   */
  takeInTurn(slotFree: () => boolean, start: (item: T) => boolean): number {
    let started = 0;
    let active = [...this.companies.keys()];
    while (active.length && slotFree()) {
      const still: string[] = [];
      for (const id of active) {
        if (!slotFree()) break;
        const c = this.companies.get(id);
        if (!c || c.sending >= this.opts.companyCap) continue;
        const item = this.next(c);
        if (!item) continue;
        // To the back of the companies' turn order.
        this.companies.delete(id);
        this.companies.set(id, c);
        if (start(item)) started++;
        else if (c.waiting === 0 && c.sending <= 0) {
          this.companies.delete(id);
          continue;
        }
        still.push(id);
      }
      active = still;
    }
    return started;
  }

  /** An attempt of this row began (called by `start` of takeInTurn). */
  began(item: T): void {
    this.sendingTo.set(item.receiver, (this.sendingTo.get(item.receiver) ?? 0) + 1);
    this.movedAt.set(item.receiver, this.now());
    this.company(item.company).sending++;
  }

  /** An attempt of this row ended. */
  ended(item: T): void {
    const n = (this.sendingTo.get(item.receiver) ?? 0) - 1;
    this.stalledReceivers.delete(item.receiver);
    if (n <= 0) {
      this.sendingTo.delete(item.receiver);
      this.movedAt.delete(item.receiver);
    } else {
      this.sendingTo.set(item.receiver, n);
      this.movedAt.set(item.receiver, this.now());
    }
    const c = this.companies.get(item.company);
    if (!c) return;
    c.sending--;
    if (c.sending <= 0 && c.waiting === 0) this.companies.delete(item.company);
  }

  /**
   * Finds receivers stalled here: every slot their limit allows is taken by attempts of which none began or ended
   * for `afterMs` (hung, or far slower than the rest). Their waiting rows are taken out, for the caller to give
   * back, and they are left out of claims until one of those attempts ends. Held here, those rows could only wait
   * (until half their lease had passed), while another worker might send them now; on an endpoint ordered per
   * complaint, one complaint's hung event so held back the other complaints' next events too.
   */
  takeStalled(afterMs: number): T[] {
    const now = this.now();
    const taken: T[] = [];
    for (const [receiver, n] of this.sendingTo) {
      if (this.stalledReceivers.has(receiver)) continue;
      if (n < this.opts.receiverLimit(receiver) || now - (this.movedAt.get(receiver) ?? now) < afterMs) continue;
      this.stalledReceivers.add(receiver);
      for (const c of this.companies.values()) {
        const queue = c.receivers.get(receiver);
        if (!queue) continue;
        c.receivers.delete(receiver);
        c.waiting -= queue.length;
        this.waitingTotal -= queue.length;
        taken.push(...queue);
      }
    }
    return taken;
  }

  /** Empties every queue and returns what was waiting (the worker is stopping). */
  takeAll(): T[] {
    const all: T[] = [];
    for (const [id, c] of this.companies) {
      for (const queue of c.receivers.values()) all.push(...queue);
      c.receivers.clear();
      c.waiting = 0;
      if (c.sending <= 0) this.companies.delete(id);
    }
    this.waitingTotal = 0;
    return all;
  }
}
