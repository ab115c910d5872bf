import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chaosEnv,
  createDatabase,
  createEndpoint,
  eventually,
  settleAndCount,
  startCountingReceiver,
  startLoad,
  watchReadiness,
  type StoreFaultReport,
} from './load.js';
import { startForwarder } from './forwarder.js';
import { createNetNamespace, type FaultMethod, type NetworkFault, type NetworkSupport } from './netns.js';
import { runCli, startCli, waitReady, type Proc } from './processes.js';

export interface NetworkScenarioOptions {
  fault: NetworkFault;
  /** How long the fault lasts, in ms. */
  faultMs: number;
  /** Load before the fault and after recovery, in ms. */
  phaseMs: number;
  /** PostgreSQL base URL of the local server (a database is created and dropped for the run). */
  databaseUrl: string;
  support: NetworkSupport;
  /** `escalatr worker` processes beside `serve` in the namespace (default 1). */
  extraWorkers?: number;
  log?: (line: string) => void;
}

export interface NetworkFaultReport extends StoreFaultReport {
  fault: string;
  /** The namespace the run created (and removed). */
  namespace: string;
  /** How the fault was made: `tc netem`, or (without it in the kernel) nftables drops or the forwarder's delay. */
  method: FaultMethod;
  /** Share of /readyz polls during the fault that were not 200. */
  not_ready_during_fault_pct: number;
  /** Seconds from the start of the fault to the first not-ready answer (null if it stayed ready). */
  went_down_after_s: number | null;
  /** Seconds from the end of the fault to the first complaint acknowledged and the first delivery received. */
  writes_resumed_s: number | null;
  deliveries_resumed_s: number | null;
  /** Complaints acknowledged and deliveries received while the fault was on. */
  acknowledged_during_fault: number;
  received_during_fault: number;
  /** The longest a complaint took to be answered (a request caught by a partition waits for the link). */
  slowest_write_s: number;
  /** Packets the fault dropped in the kernel (0 for latency). */
  dropped_packets: number;
  /** Every event delivered more than once, as `evt_…×n`. */
  duplicates: string[];
  processes_survived: boolean;
}

function describeFault(f: NetworkFault): string {
  if (f.kind === 'latency') return `${f.ms} ms latency`;
  if (f.kind === 'loss') return `${f.percent}% packet loss`;
  if (f.kind === 'forgotten') return 'open flows forgotten';
  return 'partition';
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/**
 * `escalatr serve` (API, scheduler, delivery worker) and an `escalatr worker` run inside a network namespace and
 * reach PostgreSQL over a veth (through a forwarder in the root namespace, as the server listens on loopback
 * only). While complaints are filed continuously and delivered to a receiver in the root namespace, a fault is
 * put on the database link only — latency, packet loss, a partition, or its open flows forgotten — and then
 * lifted. Both processes must survive; /readyz is polled throughout; after the fault, writes and deliveries must
 * resume without a restart, and in the end every acknowledged complaint and every committed event must have reached
 * the receiver (lost 0, stuck 0), duplicates being what at-least-once allows (each one reported).
 */
export async function runNetworkScenario(opts: NetworkScenarioOptions): Promise<NetworkFaultReport> {
  const log = opts.log ?? (() => {});
  const label = `network: ${describeFault(opts.fault)}${opts.fault.kind === 'partition' ? ` ${seconds(opts.faultMs)} s` : ''} (serve + worker in a namespace)`;
  const ns = await createNetNamespace();
  const procs: Proc[] = [];
  let receiver: Awaited<ReturnType<typeof startCountingReceiver>> | null = null;
  let forwarder: Awaited<ReturnType<typeof startForwarder>> | null = null;
  let db: Awaited<ReturnType<typeof createDatabase>> | null = null;
  const dataDir = mkdtempSync(join(tmpdir(), 'escalatr-chaos-net-'));
  try {
    receiver = await startCountingReceiver({ host: ns.clientHostAddr });
    db = await createDatabase(opts.databaseUrl);
    const direct = new URL(db.url);
    forwarder = await startForwarder(
      { host: ns.dbHostAddr },
      { host: direct.hostname, port: Number(direct.port || 5432) },
    );
    const overVeth = new URL(db.url);
    overVeth.host = `${ns.dbHostAddr}:${forwarder.port}`;
    const port = 3000;
    const base = `http://${ns.clientNsAddr}:${port}`;
    // Set-up goes straight to the server; only the processes in the namespace cross the faulty link.
    const setupEnv = chaosEnv({ dataDir, port, databaseUrl: db.url });
    await runCli(['migrate'], setupEnv);
    const demo = JSON.parse(await runCli(['demo', '--json'], setupEnv));
    const env = {
      ...setupEnv,
      DATABASE_URL: overVeth.toString(),
      HOST: ns.clientNsAddr,
      ESCALATR_WEBHOOK_ALLOW_CIDRS: ns.clientCidr,
      ESCALATR_RATE_LIMIT_PER_MIN: '1000000',
      ESCALATR_COMPANY_RATE_LIMIT_PER_MIN: '0',
      ESCALATR_COMPANY_SERVING_MS_PER_MIN: '0',
      ESCALATR_COMPANY_BODIES_RECEIVING: '0',
      ESCALATR_COMPANY_CONNECTIONS: '0',
    };
    procs.push(startCli(['serve'], env, ns.execPrefix()));
    for (let i = 0; i < (opts.extraWorkers ?? 1); i++) procs.push(startCli(['worker'], env, ns.execPrefix()));
    await waitReady(base, 60_000);
    await createEndpoint(base, demo.api_key, receiver.url);

    const readiness = watchReadiness(base);
    const load = startLoad(base, demo.consumer.token, demo.company.code);
    await new Promise((r) => setTimeout(r, opts.phaseMs));

    log(
      `${describeFault(opts.fault)} on the database link for ${seconds(opts.faultMs)} s, with ${load.acknowledged.size} complaints acknowledged and ${receiver.received()} deliveries received`,
    );
    readiness.resetCounts();
    const faultStartedAt = Date.now();
    const ackedAtStart = load.acknowledged.size;
    const receivedAtStart = receiver.received();
    let method: FaultMethod | null;
    let faultEndedAt: number;
    let dropped = 0;
    try {
      method = await ns.setFault(opts.fault, { netem: opts.support.netem, dbPort: forwarder.port });
      if (method === 'forwarder delay' && opts.fault.kind === 'latency') forwarder.setDelay(opts.fault.ms);
      await new Promise((r) => setTimeout(r, opts.faultMs));
    } finally {
      dropped = await ns.droppedPackets().catch(() => 0);
      forwarder.setDelay(0);
      await ns.setFault(null, { netem: opts.support.netem, dbPort: forwarder.port });
      faultEndedAt = Date.now();
    }
    const notReadyPct = readiness.polls() ? Math.round((readiness.notReadyPolls() / readiness.polls()) * 100) : 0;
    const wentDownAt = readiness.firstNotReadyAt();
    const ackedAtEnd = load.acknowledged.size;
    const receivedAtEnd = receiver.received();
    log(
      `fault lifted (${method}, ${dropped} packets dropped); /readyz was not ready for ${notReadyPct}% of polls during it; ${ackedAtEnd - ackedAtStart} complaints acknowledged and ${receivedAtEnd - receivedAtStart} deliveries received during it`,
    );

    let writesResumedAt: number | null = null;
    let deliveriesResumedAt: number | null = null;
    const recovered = await eventually(() => {
      if (writesResumedAt === null && load.acknowledged.size > ackedAtEnd) writesResumedAt = Date.now();
      if (deliveriesResumedAt === null && receiver!.received() > receivedAtEnd) deliveriesResumedAt = Date.now();
      return readiness.ready() && writesResumedAt !== null && deliveriesResumedAt !== null;
    }, 180_000);
    const readyAgainAt = readiness.readyAgainAt();
    log(
      recovered
        ? `work resumed by itself: writes after ${seconds(writesResumedAt! - faultEndedAt)} s, deliveries after ${seconds(deliveriesResumedAt! - faultEndedAt)} s, /readyz ready`
        : `did NOT recover within 180 s (ready: ${readiness.ready()}, writes resumed: ${writesResumedAt !== null}, deliveries resumed: ${deliveriesResumedAt !== null})`,
    );
    await new Promise((r) => setTimeout(r, opts.phaseMs));
    await load.stop();
    await readiness.stop();
    const survived = procs.every((p) => p.child.exitCode === null && p.child.signalCode === null);
    if (!survived)
      for (const p of procs) if (p.child.exitCode !== null) log(`a process exited: ${p.output().slice(-2000)}`);
    for (const e of load.otherErrors().slice(0, 5)) log(`unexpected answer: ${e}`);

    const counts = survived
      ? await settleAndCount(base, demo.api_key, receiver, load.acknowledged, 180_000)
      : { events: 0, delivered: receiver.seen.size, duplicated: 0, lost: load.acknowledged.size, stuck: 0 };
    const duplicates = [...receiver.seen.entries()].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
    return {
      scenario: label,
      fault: describeFault(opts.fault),
      namespace: ns.name,
      method: method!,
      sent: load.sent(),
      acknowledged: load.acknowledged.size,
      refused_503: load.refused503(),
      other_errors: load.otherErrors().length,
      ...counts,
      went_not_ready: readiness.sawNotReady(),
      not_ready_during_fault_pct: notReadyPct,
      went_down_after_s: wentDownAt === null ? null : seconds(Math.max(0, wentDownAt - faultStartedAt)),
      recovered,
      recovery_s: readyAgainAt === null ? null : seconds(Math.max(0, readyAgainAt - faultEndedAt)),
      writes_resumed_s: writesResumedAt === null ? null : seconds(writesResumedAt - faultEndedAt),
      deliveries_resumed_s: deliveriesResumedAt === null ? null : seconds(deliveriesResumedAt - faultEndedAt),
      acknowledged_during_fault: ackedAtEnd - ackedAtStart,
      received_during_fault: receivedAtEnd - receivedAtStart,
      dropped_packets: dropped,
      slowest_write_s: seconds(load.slowestMs()),
      duplicates,
      processes_survived: survived,
    };
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    const stopped = Promise.all(procs.map((p) => p.exited));
    const killAfter = setTimeout(() => procs.forEach((p) => p.child.kill('SIGKILL')), 15_000);
    await stopped;
    clearTimeout(killAfter);
    await forwarder?.close();
    await receiver?.close();
    await ns.remove();
    await db?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
