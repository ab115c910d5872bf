import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * A network namespace with two veth pairs to the root namespace, for putting real network faults between our
 * processes and the database:
 *
 *   - the database link: processes in the namespace reach PostgreSQL through it (a forwarder in the root
 *     namespace listens on its root-side address and relays to the server on loopback). Faults go here only.
 *   - the client link: the API, /readyz and the webhook receivers, so load and observation are not faulted.
 *
 * Addresses come from the benchmarking range 198.18.0.0/15, a random /29 per namespace so runs side by side do
 * not collide; they exist only on these veths. Needs root (CAP_NET_ADMIN), iproute2 and nftables. Everything is
 * removed by `remove()`, and on process exit or SIGINT/SIGTERM for whatever a crash left behind: the faults
 * (nftables rules inside the namespace, qdiscs on its veths) go with the namespace and its devices.
 */

const run = promisify(execFile);

/**
 * `forgotten`: a NAT or firewall on the way forgets every flow it holds now (a gateway restarted, its table full):
 * the database connections open at that moment go dark for good in both directions, neither end told, while new
 * connections pass. Lifting it forgets nothing more; the dead flows stay dead for the rest of the run. (Matched by
 * their ports rather than by conntrack: connections opened before a namespace first tracks any are picked up
 * mid-stream, some as new.)
 */
export type NetworkFault =
  { kind: 'latency'; ms: number } | { kind: 'loss'; percent: number } | { kind: 'partition' } | { kind: 'forgotten' };

/** How a fault is made on this machine: `tc netem` when the kernel has it, otherwise the closest real means. */
export type FaultMethod = 'tc netem' | 'nftables drop' | 'forwarder delay';

export interface NetworkSupport {
  ok: boolean;
  /** Why the namespace scenarios cannot run here (when !ok). */
  reason?: string;
  /** Whether this kernel has `tc netem` (sch_netem); without it latency is added by the forwarder. */
  netem: boolean;
  netemReason?: string;
}

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function errText(err: unknown): string {
  const e = err as { stderr?: string | Buffer; message?: string };
  return String(e.stderr || e.message || err).trim();
}

/**
 * Whether this machine can run the namespace scenarios, and whether `tc netem` exists. It creates and removes a
 * throwaway namespace and veth to find out, since a container may refuse either even to root.
 */
export async function checkNetworkSupport(): Promise<NetworkSupport> {
  if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux', netem: false };
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'creating network namespaces needs root (CAP_NET_ADMIN)', netem: false };
  if (!has('ip'))
    return { ok: false, reason: 'needs iproute2 (`apt-get install iproute2`) for `ip netns`', netem: false };
  if (!has('nft'))
    return { ok: false, reason: 'needs nftables (`apt-get install nftables`) for loss and partitions', netem: false };
  const id = randomBytes(3).toString('hex');
  const ns = `escalatr-probe-${id}`;
  const dev = `escp${id}`;
  try {
    await run('ip', ['netns', 'add', ns]);
  } catch (err) {
    return { ok: false, reason: `\`ip netns add\` is not permitted here: ${errText(err)}`, netem: false };
  }
  try {
    await run('ip', ['-n', ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
    await run('ip', ['netns', 'exec', ns, 'nft', 'add', 'table', 'inet', 'escalatr_probe']);
    try {
      await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', '1ms']);
      return { ok: true, netem: true };
    } catch (err) {
      return {
        ok: true,
        netem: false,
        netemReason: `tc netem is not available in this kernel (${errText(err).replace(/\.$/, '')})`,
      };
    }
  } catch (err) {
    return {
      ok: false,
      reason: `veth or nftables inside a namespace are not permitted here: ${errText(err)}`,
      netem: false,
    };
  } finally {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

export interface NetNamespace {
  name: string;
  /** Root-namespace end of the database link (the forwarder listens here). */
  dbHostAddr: string;
  /** Root-namespace end of the client link (receivers listen here; the API is reached from here). */
  clientHostAddr: string;
  /** Namespace end of the client link (the API listens here). */
  clientNsAddr: string;
  /** The /30 of the client link, to allow-list for webhooks. */
  clientCidr: string;
  /** The command prefix that runs a program inside the namespace. */
  execPrefix(): string[];
  /** Puts a fault on the database link (replacing any), or clears it with null. Returns how it was made. */
  setFault(fault: NetworkFault | null, opts: { netem: boolean; dbPort: number }): Promise<FaultMethod | null>;
  /** Packets the current fault has dropped so far (nftables counters, or netem's drop count); 0 for none. */
  droppedPackets(): Promise<number>;
  remove(): Promise<void>;
}

const live = new Set<string>();
let exitHooked = false;

/** Last-resort cleanup when the process ends without reaching a `finally` (an uncaught error, Ctrl-C). */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const sweep = () => {
    for (const ns of live) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    live.clear();
  };
  process.on('exit', sweep);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      sweep();
      process.exit(130);
    });
}

/** The namespaces this machine has whose names start with `prefix` (to check that a run left none behind). */
export async function listNamespaces(prefix = 'escalatr-chaos-'): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name.startsWith(prefix));
}

/** Creates the namespace, its two veth pairs and their addresses. */
export async function createNetNamespace(): Promise<NetNamespace> {
  hookExit();
  const id = randomBytes(3).toString('hex');
  const name = `escalatr-chaos-${id}`;
  // A random /29 in 198.18.0.0/15: .1/.2 the database link, .5/.6 the client link.
  const block = randomInt(0, 1 << 14) * 8;
  const addr = (offset: number) => {
    const n = (198 << 24) + (18 << 16) + block + offset;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  };
  const dbHost = `esc${id}d`;
  const dbNs = `esc${id}dn`;
  const clientHost = `esc${id}c`;
  const clientNs = `esc${id}cn`;
  const ip = (...args: string[]) => run('ip', args);
  await ip('netns', 'add', name);
  live.add(name);
  const remove = async () => {
    // Deleting the namespace deletes its veth ends, which deletes their peers, their qdiscs and its nftables rules.
    await ip('netns', 'del', name).catch(() => undefined);
    for (const dev of [dbHost, clientHost]) await ip('link', 'del', dev).catch(() => undefined);
    live.delete(name);
  };
  try {
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    for (const [host, ns, hostAddr, nsAddr] of [
      [dbHost, dbNs, addr(1), addr(2)],
      [clientHost, clientNs, addr(5), addr(6)],
    ]) {
      await ip('link', 'add', host, 'type', 'veth', 'peer', 'name', ns);
      await ip('link', 'set', ns, 'netns', name);
      await ip('addr', 'add', `${hostAddr}/30`, 'dev', host);
      await ip('-n', name, 'addr', 'add', `${nsAddr}/30`, 'dev', ns);
      await ip('link', 'set', host, 'up');
      await ip('-n', name, 'link', 'set', ns, 'up');
    }
  } catch (err) {
    await remove();
    throw err;
  }

  const nft = (script: string) =>
    new Promise<void>((resolve, reject) => {
      const child = execFile('ip', ['netns', 'exec', name, 'nft', '-f', '-'], (err) => (err ? reject(err) : resolve()));
      child.stdin!.end(script);
    });
  const clearFaults = async () => {
    await run('ip', ['netns', 'exec', name, 'nft', 'delete', 'table', 'inet', 'escalatr_chaos']).catch(() => undefined);
    await run('tc', ['-n', name, 'qdisc', 'del', 'dev', dbNs, 'root']).catch(() => undefined);
    await run('tc', ['qdisc', 'del', 'dev', dbHost, 'root']).catch(() => undefined);
  };
  /** nftables rules in the namespace dropping database-link packets to and from the forwarder's port. */
  const dropRules = (dbPort: number, match: string) => `
table inet escalatr_chaos {
  chain output {
    type filter hook output priority 0; policy accept;
    oifname "${dbNs}" tcp dport ${dbPort} ${match} counter drop
  }
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "${dbNs}" tcp sport ${dbPort} ${match} counter drop
  }
}`;

  return {
    name,
    dbHostAddr: addr(1),
    clientHostAddr: addr(5),
    clientNsAddr: addr(6),
    clientCidr: `${addr(4)}/30`,
    execPrefix: () => ['ip', 'netns', 'exec', name],
    async droppedPackets() {
      let dropped = 0;
      for (const table of ['escalatr_chaos', 'escalatr_forgotten']) {
        const nftOut = await run('ip', ['netns', 'exec', name, 'nft', 'list', 'table', 'inet', table]).catch(() => ({
          stdout: '',
        }));
        for (const m of nftOut.stdout.matchAll(/counter packets (\d+)/g)) dropped += Number(m[1]);
      }
      for (const prefix of [[], ['-n', name]]) {
        const dev = prefix.length ? dbNs : dbHost;
        const tcOut = await run('tc', [...prefix, '-s', 'qdisc', 'show', 'dev', dev]).catch(() => ({ stdout: '' }));
        for (const m of tcOut.stdout.matchAll(/netem[\s\S]*?dropped (\d+)/g)) dropped += Number(m[1]);
      }
      return dropped;
    },
    async setFault(fault, { netem, dbPort }) {
      await clearFaults();
      if (!fault) return null;
      if (fault.kind === 'forgotten') {
        // The database connections open now, by their local ports; every packet of theirs is dropped both ways,
        // while connections opened later pass. The table is not a fault that clearFaults lifts: it goes with the
        // namespace.
        const { stdout } = await run('ip', ['netns', 'exec', name, 'ss', '-tnH', 'state', 'established']);
        const ports = [...stdout.matchAll(new RegExp(`:(\\d+)\\s+\\S+:${dbPort}\\b`, 'g'))].map((m) => m[1]);
        if (!ports.length) throw new Error('no database connection is open to forget');
        const set = `{ ${ports.join(', ')} }`;
        await nft(`
table inet escalatr_forgotten {
  chain output {
    type filter hook output priority 0; policy accept;
    oifname "${dbNs}" tcp dport ${dbPort} tcp sport ${set} counter drop
  }
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "${dbNs}" tcp sport ${dbPort} tcp dport ${set} counter drop
  }
}`);
        return 'nftables drop';
      }
      if (fault.kind === 'partition') {
        // A blackhole, not a refusal: packets vanish both ways, so connections hang as across a real network.
        await nft(dropRules(dbPort, ''));
        return 'nftables drop';
      }
      if (fault.kind === 'loss') {
        if (netem) {
          for (const [dev, ns] of [
            [dbHost, false],
            [dbNs, true],
          ] as const)
            await run('tc', [
              ...(ns ? ['-n', name] : []),
              'qdisc',
              'add',
              'dev',
              dev,
              'root',
              'netem',
              'loss',
              `${fault.percent}%`,
            ]);
          return 'tc netem';
        }
        // Each direction drops fault.percent of its packets at random, in the kernel: TCP retransmits as it would.
        await nft(dropRules(dbPort, `numgen random mod 1000 < ${Math.round(fault.percent * 10)}`));
        return 'nftables drop';
      }
      if (netem) {
        // Half each way: every round trip over the link takes fault.ms longer.
        const half = `${Math.round(fault.ms / 2)}ms`;
        await run('tc', ['qdisc', 'add', 'dev', dbHost, 'root', 'netem', 'delay', half]);
        await run('tc', ['-n', name, 'qdisc', 'add', 'dev', dbNs, 'root', 'netem', 'delay', half]);
        return 'tc netem';
      }
      // No netem: the caller's forwarder holds the bytes instead (see startForwarder's delay).
      return 'forwarder delay';
    },
    remove,
  };
}

/** Root-namespace veth ends made for chaos namespaces (of one namespace, when named); none after `remove()`. */
export async function chaosDevices(namespace?: string): Promise<string[]> {
  const id = namespace ? namespace.replace('escalatr-chaos-', '') : '[0-9a-f]{6}';
  const ours = new RegExp(`^esc${id}[dc]$`);
  const { stdout } = await run('ip', ['-o', 'link', 'show']);
  return stdout
    .split('\n')
    .map((line) => line.split(': ')[1]?.split('@')[0] ?? '')
    .filter((dev) => ours.test(dev));
}
