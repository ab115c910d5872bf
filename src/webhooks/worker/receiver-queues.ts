/**
 * The worker's claimed rows, per receiver (an endpoint or a Shield destination), and its attempts in flight per
 * receiver: what enforces the per-receiver cap, so a slow or dead receiver holds at most `cap` of the worker's
 * slots, and serves receivers in turn so one receiver's backlog cannot starve the others.
 */
export class ReceiverQueues<T extends { receiver: string }> {
  /** Rows waiting for a slot, per receiver, in claim order; the map's order is the turn order. */
  private readonly waiting = new Map<string, T[]>();
  /** Attempts in flight per receiver (absent: none). */
  private readonly sending = new Map<string, number>();
  private waitingTotal = 0;

  /**
   * @param cap attempts in flight to one receiver at most
   * @param heldMax rows of one receiver held at most, waiting and sending (a multiple of the cap)
   */
  constructor(
    private readonly cap: number,
    private readonly heldMax: number,
  ) {}

  /** Rows claimed and waiting for a slot. */
  get waitingCount(): number {
    return this.waitingTotal;
  }

  /** Whether any receiver has an attempt in flight. */
  get anySending(): boolean {
    return this.sending.size > 0;
  }

  /** Rows of this receiver held by the worker: sending or waiting. */
  held(receiver: string): number {
    return (this.waiting.get(receiver)?.length ?? 0) + (this.sending.get(receiver) ?? 0);
  }

  /**
   * Receivers to leave out of the next claim, their rows left for other workers: those with a cap's worth of rows
   * already waiting, and those holding their full share. Without the first, a receiver that hangs (its rows pile up
   * at the front of the due order) came back into every claim as soon as one of its attempts ended, and each such
   * claim was mostly its rows, given straight back: a fifth of the healthy throughput.
   */
  saturated(): string[] {
    const receivers = new Set([...this.waiting.keys(), ...this.sending.keys()]);
    return [...receivers].filter((r) => (this.waiting.get(r)?.length ?? 0) >= this.cap || this.held(r) >= this.heldMax);
  }

  /** Splits a claim into the rows each receiver's share has room for and the excess, to be given back. */
  split(claimed: readonly T[]): { kept: T[]; excess: T[] } {
    const kept: T[] = [];
    const excess: T[] = [];
    const held = new Map<string, number>();
    for (const item of claimed) {
      const n = held.get(item.receiver) ?? this.held(item.receiver);
      held.set(item.receiver, n + 1);
      (n >= this.heldMax ? excess : kept).push(item);
    }
    return { kept, excess };
  }

  /** Queues claimed rows behind their receivers' waiting rows. */
  add(items: readonly T[]): void {
    for (const item of items) {
      const queue = this.waiting.get(item.receiver);
      if (queue) queue.push(item);
      else this.waiting.set(item.receiver, [item]);
    }
    this.waitingTotal += items.length;
  }

  /** Waiting rows whose receiver is below its cap: what the next free slots can start. */
  startable(): number {
    let n = 0;
    for (const [receiver, queue] of this.waiting) if ((this.sending.get(receiver) ?? 0) < this.cap) n += queue.length;
    return n;
  }

  /**
   * Takes waiting rows while `slotFree()`, receivers in turn, skipping those at their cap; `start` is called with
   * each, and returns false for a row it gave up on instead (it does not count as sending). The receivers served go
   * to the back of the turn order, or leave it with nothing left waiting. Returns how many started.
   */
  takeInTurn(slotFree: () => boolean, start: (item: T) => boolean): number {
    let started = 0;
    const served: string[] = [];
    for (const [receiver, queue] of this.waiting) {
      if (!slotFree()) break;
      let sending = this.sending.get(receiver) ?? 0;
      while (queue.length && slotFree() && sending < this.cap) {
        const item = queue.shift()!;
        this.waitingTotal--;
        if (!start(item)) continue;
        sending++;
        started++;
      }
      served.push(receiver);
    }
    for (const receiver of served) {
      const queue = this.waiting.get(receiver)!;
      this.waiting.delete(receiver);
      if (queue.length) this.waiting.set(receiver, queue);
    }
    return started;
  }

  /** An attempt to this receiver began (called by `start` of takeInTurn). */
  began(receiver: string): void {
    this.sending.set(receiver, (this.sending.get(receiver) ?? 0) + 1);
  }

  /** An attempt to this receiver ended. */
  ended(receiver: string): void {
    const n = (this.sending.get(receiver) ?? 0) - 1;
    if (n <= 0) this.sending.delete(receiver);
    else this.sending.set(receiver, n);
  }

  /** Empties every queue and returns what was waiting (the worker is stopping). */
  takeAll(): T[] {
    const all = [...this.waiting.values()].flat();
    this.waiting.clear();
    this.waitingTotal = 0;
    return all;
  }
}
