import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { threadEntry } from '../threads.js';
import type { JsonataOutcome } from './transform-jsonata.js';
import type { TransformReply, TransformRequest } from './transform-worker.js';

/**
 * Runs tenants' JSONata transformations in processes of their own (transform-worker.ts), away from the serving
 * process. An evaluation that never yields (one built-in call building a huge string, a regular expression that
 * backtracks for minutes) cannot be interrupted from inside; one that allocates without bound takes its whole process
 * down, a worker thread's memory limit included (V8 ends the process when one large allocation fails). So each
 * evaluation runs in a child process that is killed when it outlives `hardLimitMs` from the moment it was handed over
 * or dies at `memoryMb`, and replaced. The caller gets a failure naming the limit; every other company's requests
 * and deliveries go on meanwhile. A process takes one evaluation at a time; the rest wait their turn, company by
 * company in turn (each company's own in order), so one company's queue of slow expressions delays another's by at
 * most one evaluation per company ahead of it, not by its whole queue; and a company with `maxWaitingPerCompany`
 * waiting already has the next one fail at once rather than queue without bound.
 */
export interface TransformRunnerOptions {
  processes?: number;
  hardLimitMs?: number;
  memoryMb?: number;
  /** An idle process is ended after this long; the next evaluation starts one again. */
  idleMs?: number;
  maxWaitingPerCompany?: number;
}

interface Pending {
  company: string;
  request: TransformRequest;
  resolve: (outcome: JsonataOutcome) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
  timedOut?: boolean;
}

interface Child {
  proc: ChildProcess;
  ready: boolean;
  task: Pending | null;
  idleTimer?: NodeJS.Timeout;
}

export class TransformRunner {
  private readonly children = new Set<Child>();
  /** Waiting evaluations by company; a company's turn comes round in the Map's order, then goes to the back. */
  private readonly waiting = new Map<string, Pending[]>();
  private nextId = 1;
  private closed = false;
  private readonly processes: number;
  private readonly hardLimitMs: number;
  private readonly memoryMb: number;
  private readonly idleMs: number;
  private readonly maxWaitingPerCompany: number;

  constructor(opts: TransformRunnerOptions = {}) {
    this.processes = opts.processes ?? 2;
    this.hardLimitMs = opts.hardLimitMs ?? 500;
    this.memoryMb = opts.memoryMb ?? 128;
    this.idleMs = opts.idleMs ?? 60_000;
    this.maxWaitingPerCompany = opts.maxWaitingPerCompany ?? 100;
  }

  /** The bytes `expression` makes of the stored body (null: nothing to send), or the reason it failed. */
  run(company: string, expression: string, storedBody: string): Promise<JsonataOutcome> {
    if (this.closed) return Promise.reject(new Error('the transformation runner is closed'));
    if ((this.waiting.get(company)?.length ?? 0) >= this.maxWaitingPerCompany)
      return Promise.resolve({
        failure: `${this.maxWaitingPerCompany} of this company's transformations were already waiting to run`,
      });
    return new Promise((resolve, reject) => {
      const task = { company, request: { id: this.nextId++, expression, storedBody }, resolve, reject };
      const queue = this.waiting.get(company);
      if (queue) queue.push(task);
      else this.waiting.set(company, [task]);
      this.pump();
    });
  }

  /** The first waiting evaluation of the company whose turn it is; that company goes to the back of the turn. */
  private next(): Pending | undefined {
    for (const [company, queue] of this.waiting) {
      this.waiting.delete(company);
      const task = queue.shift();
      if (queue.length) this.waiting.set(company, queue);
      if (task) return task;
    }
    return undefined;
  }

  private drainWaiting(err: () => Error): void {
    for (const queue of this.waiting.values()) for (const task of queue) task.reject(err());
    this.waiting.clear();
  }

  /** Ends the processes; evaluations still waiting are refused. */
  async close(): Promise<void> {
    this.closed = true;
    this.drainWaiting(() => new Error('the transformation runner is closed'));
    const exits = [...this.children].map((c) => new Promise((done) => c.proc.once('exit', done)));
    for (const c of this.children) c.proc.kill('SIGKILL');
    await Promise.all(exits);
  }

  private pump(): void {
    for (const child of this.children) {
      if (!this.waiting.size) return;
      if (child.ready && !child.task) this.hand(child, this.next()!);
    }
    const starting = [...this.children].some((c) => !c.ready);
    if (this.waiting.size && !starting && this.children.size < this.processes) this.start();
  }

  private hand(child: Child, task: Pending): void {
    clearTimeout(child.idleTimer);
    child.task = task;
    child.proc.channel?.ref();
    task.timer = setTimeout(() => {
      task.timedOut = true;
      child.proc.kill('SIGKILL');
    }, this.hardLimitMs);
    child.proc.send(task.request);
  }

  private idle(child: Child): void {
    child.task = null;
    // An idle process neither keeps this one alive nor lives for ever.
    child.proc.channel?.unref();
    child.idleTimer = setTimeout(() => child.proc.kill(), this.idleMs);
    child.idleTimer.unref();
  }

  private start(): void {
    const entry = threadEntry(import.meta.url, 'transform-worker');
    const proc = fork(fileURLToPath(entry.filename), [], {
      execArgv: [...(entry.execArgv ?? []), `--max-old-space-size=${this.memoryMb}`],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    proc.unref();
    const child: Child = { proc, ready: false, task: null };
    this.children.add(child);
    proc.on('message', (message: TransformReply) => {
      if ('ready' in message) {
        child.ready = true;
        this.idle(child);
      } else {
        const task = child.task;
        if (!task || task.request.id !== message.id) return;
        clearTimeout(task.timer);
        this.idle(child);
        task.resolve(message.outcome);
      }
      this.pump();
    });
    proc.on('error', () => proc.kill('SIGKILL'));
    proc.once('exit', () => {
      this.children.delete(child);
      clearTimeout(child.idleTimer);
      const task = child.task;
      if (task) {
        clearTimeout(task.timer);
        task.resolve({
          failure: task.timedOut
            ? `ran longer than ${this.hardLimitMs} ms`
            : `its process ended (more than ${this.memoryMb} MB of memory, or a crash)`,
        });
      } else if (!child.ready && !this.closed) {
        // It could not start: refuse what waits rather than start processes in a loop.
        this.drainWaiting(() => new Error('the transformation process did not start'));
      }
      if (!this.closed) this.pump();
    });
  }
}

let shared: TransformRunner | null = null;

/** The process's transformation runner. */
export function transformRunner(): TransformRunner {
  shared ??= new TransformRunner();
  return shared;
}
