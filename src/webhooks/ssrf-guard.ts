import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector } from 'undici';

/**
 * SSRF guard for outbound webhooks: the address actually connected to, after DNS and on every attempt,
 * must be a global unicast address unless the operator allow-lists it.
 *
 * Policy decisions:
 *  - Deny by default: only ipaddr.js's `unicast` range (and, for IPv6, only inside 2000::/3) is allowed. Anything
 *    ipaddr.js does not know as global is blocked, so a new special range never silently becomes reachable.
 *  - Addresses that embed an IPv4 address are judged by what they reach: IPv4-mapped (::ffff:a.b.c.d) and NAT64
 *    (64:ff9b::/96) by the embedded IPv4; 6to4, Teredo, SIIT (::ffff:0:a.b.c.d) and IPv4-compatible (::a.b.c.d)
 *    are blocked outright as `reserved` because where they route depends on relays we do not control.
 *  - A hostname is refused if ANY of its resolved addresses is blocked, not just the one we would pick: a name that
 *    mixes public and internal addresses is an attack or a misconfiguration, and judging all of them keeps the
 *    outcome independent of resolver ordering.
 *  - The connection goes to the exact address that was checked (the IP is pinned), so DNS rebinding between the
 *    check and the connect is impossible; TLS still verifies the certificate against the original hostname.
 */

export type BlockReason =
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'multicast'
  | 'unique_local'
  | 'unspecified'
  | 'reserved'
  | 'broadcast'
  | 'invalid';

export interface AddressVerdict {
  allowed: boolean;
  reason?: BlockReason;
}

/** Raised when a connection is refused by the guard; the sender records it as `error_kind: 'ssrf_blocked'`. */
export class SsrfBlockedError extends Error {
  readonly code = 'ESCALATR_SSRF_BLOCKED';
  constructor(
    readonly reason: BlockReason,
    readonly address: string,
    readonly hostname?: string,
  ) {
    super(
      hostname && hostname !== address
        ? `refusing to connect to ${hostname} (${address}): ${reason} address`
        : `refusing to connect to ${address}: ${reason} address`,
    );
    this.name = 'SsrfBlockedError';
  }
}

export function isSsrfBlockedError(err: unknown): err is SsrfBlockedError {
  return err instanceof SsrfBlockedError || (err as { code?: unknown } | null)?.code === 'ESCALATR_SSRF_BLOCKED';
}

// Only characters that can appear in a domain name or an IP literal; anything else (userinfo "@", paths, ports)
// would let URL parsing read a different host than the caller meant.
const HOST_CHARS = /^[A-Za-z0-9._\-:[\]]+$/;

/**
 * The canonical IP a host string denotes, or null when it is a domain name (or not a valid host).
 * IPv4 shorthands are interpreted as WHATWG URL parsing does, so `2130706433`, `0177.0.0.1`, `0x7f.1` and `127.1`
 * all give `127.0.0.1` — the same address undici, browsers and (via inet_aton) getaddrinfo would connect to.
 * IPv6 comes back in RFC 5952 form without brackets; IPv4-mapped IPv6 is kept as IPv6 (the classifier unwraps it).
 */
export function parseHostToIp(host: string): string | null {
  if (typeof host !== 'string') return null;
  let h = host.trim();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  // Zone ids (fe80::1%eth0) only exist on link-local addresses, which are blocked anyway; the zone is irrelevant.
  const zone = h.indexOf('%');
  if (zone !== -1 && h.includes(':')) h = h.slice(0, zone);
  if (isIP(h) === 6) {
    // Canonicalise with the WHATWG parser rather than ipaddr.js: ipaddr.js reads "::127.0.0.1" (IPv4-compatible,
    // ::7f00:1) as IPv4-mapped ::ffff:7f00:1, which is not the address the OS would dial.
    try {
      return new URL(`http://[${h}]/`).hostname.slice(1, -1);
    } catch {
      return null;
    }
  }
  if (isIP(h) === 4) return h;
  if (!h || h.includes(':') || !HOST_CHARS.test(h)) return null;
  let hostname: string;
  try {
    hostname = new URL(`http://${h}/`).hostname;
  } catch {
    return null;
  }
  return isIP(hostname) === 4 ? hostname : null;
}

const IPV4_REASONS: Record<string, BlockReason> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link_local',
  loopback: 'loopback',
  carrierGradeNat: 'cgnat',
  private: 'private',
};

const IPV6_REASONS: Record<string, BlockReason> = {
  unspecified: 'unspecified',
  linkLocal: 'link_local',
  multicast: 'multicast',
  loopback: 'loopback',
  uniqueLocal: 'unique_local',
  // fec0::/10 was the private "site-local" range before ULA replaced it.
  deprecatedSiteLocal: 'private',
};

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parse('2000::');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parse('64:ff9b::');

function classifyParsed(addr: ipaddr.IPv4 | ipaddr.IPv6): AddressVerdict {
  if (addr.kind() === 'ipv4') {
    const range = (addr as ipaddr.IPv4).range() as string;
    if (range === 'unicast') return { allowed: true };
    return { allowed: false, reason: IPV4_REASONS[range] ?? 'reserved' };
  }
  const v6 = addr as ipaddr.IPv6;
  const range = v6.range() as string;
  if (range === 'ipv4Mapped') return classifyParsed(v6.toIPv4Address());
  if (range === 'rfc6052' && v6.match(NAT64_WELL_KNOWN, 96)) {
    const [a, b] = v6.parts.slice(6);
    return classifyParsed(new ipaddr.IPv4([a >> 8, a & 0xff, b >> 8, b & 0xff]));
  }
  if (range === 'unicast') {
    return v6.match(GLOBAL_UNICAST_V6, 3) ? { allowed: true } : { allowed: false, reason: 'reserved' };
  }
  return { allowed: false, reason: IPV6_REASONS[range] ?? 'reserved' };
}

function parseAddress(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const canonical = parseHostToIp(ip);
  if (!canonical) return null;
  try {
    return ipaddr.parse(canonical);
  } catch {
    return null;
  }
}

/** Whether an outbound connection to `ip` is allowed by the built-in policy (no allow-list). */
export function classifyAddress(ip: string): AddressVerdict {
  const addr = parseAddress(ip);
  return addr ? classifyParsed(addr) : { allowed: false, reason: 'invalid' };
}

/** The built-in policy plus the operator's allow-list (ESCALATR_WEBHOOK_ALLOW_CIDRS), which overrides the block. */
export class SsrfGuard {
  private readonly allow: [ipaddr.IPv4 | ipaddr.IPv6, number][];

  constructor(allowCidrs: readonly string[] = []) {
    this.allow = allowCidrs.map((cidr) => {
      try {
        return ipaddr.parseCIDR(cidr.trim());
      } catch {
        throw new Error(`"${cidr}" is not a CIDR such as 127.0.0.0/8 or ::1/128`);
      }
    });
  }

  check(ip: string): AddressVerdict {
    const addr = parseAddress(ip);
    if (!addr) return { allowed: false, reason: 'invalid' };
    // Match the literal form and, for IPv4-mapped IPv6, the IPv4 it reaches, so 127.0.0.0/8 also covers
    // ::ffff:127.0.0.1 (what a dual-stack socket reports) and ::ffff:0:0/96 entries keep working.
    const forms: (ipaddr.IPv4 | ipaddr.IPv6)[] = [addr];
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      forms.push((addr as ipaddr.IPv6).toIPv4Address());
    }
    for (const [net, bits] of this.allow) {
      if (forms.some((f) => f.kind() === net.kind() && f.match(net, bits))) return { allowed: true };
    }
    return classifyParsed(addr);
  }
}

interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a hostname to every address it has; injectable so tests can simulate DNS changing under us. */
export type LookupFn = (hostname: string) => Promise<ResolvedAddress[]>;

const defaultLookup: LookupFn = (hostname) => dnsLookup(hostname, { all: true });

export interface GuardedDispatcherOptions {
  lookup?: LookupFn;
  /**
   * Extra TLS options, e.g. `{ ca }` for a test CA. Connection-routing keys (host, servername, socket, lookup…) are
   * ignored and certificate verification cannot be switched off: pinning the IP is only safe while TLS still proves
   * the peer is the hostname the user configured.
   */
  tls?: ConnectionOptions;
  /** TCP + TLS handshake timeout per address; the sender's overall timeout still bounds the whole attempt. */
  connectTimeoutMs?: number;
  /** Passed to undici's Agent (pool sizes, keep-alive…); `connect` is always the guarded one. */
  agent?: Omit<Agent.Options, 'connect'>;
}

// Errors after which the next resolved address is worth trying: nothing reached a server that spoke to us.
const NEXT_ADDRESS_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT']);

function refuseLookup(hostname: string, _options: unknown, callback: (err: Error) => void): void {
  callback(new SsrfBlockedError('invalid', hostname));
}

/**
 * Extra TLS options (a test's private CA) as a guarded connection may take them: the keys that route the connection
 * (host, port, servername, socket, lookup) are dropped, and certificate verification stays on. Pinning the checked
 * IP is only safe while TLS still proves the peer is the host the user configured.
 */
export function verifiedTls(extra: ConnectionOptions = {}): ConnectionOptions {
  const {
    host: _host,
    port: _port,
    path: _path,
    socket: _socket,
    servername: _servername,
    lookup: _lookup,
    rejectUnauthorized: _reject,
    ...rest
  } = extra as ConnectionOptions & { path?: unknown; lookup?: unknown };
  return { ...rest, rejectUnauthorized: true };
}

/**
 * An undici Agent that resolves names itself, refuses blocked addresses (including IP literals), connects to the
 * exact address it checked and re-checks `socket.remoteAddress` once connected.
 */
export function createGuardedDispatcher(guard: SsrfGuard, opts: GuardedDispatcherOptions = {}): Agent {
  const lookup = opts.lookup ?? defaultLookup;
  const inner = buildConnector({
    ...(verifiedTls(opts.tls) as object),
    // The host handed to net/tls is always an IP literal, so Node never resolves; this makes sure of it.
    lookup: refuseLookup as never,
    timeout: opts.connectTimeoutMs ?? 10_000,
  });

  const connect: buildConnector.connector = (options, callback) => {
    let done = false;
    const finish = (err: Error | null, socket?: Socket) => {
      if (done) {
        socket?.destroy();
        return;
      }
      done = true;
      if (err) callback(err, null);
      else callback(null, socket as Socket);
    };

    const hostname = options.hostname.startsWith('[') ? options.hostname.slice(1, -1) : options.hostname;
    resolveAndCheck(guard, hostname, lookup).then(
      (addresses) => {
        // SNI and certificate checks use the name the user configured, never the pinned IP (IPs get no SNI).
        const servername = options.servername || (isIP(hostname) ? undefined : hostname);
        const attempt = (i: number) => {
          const address = addresses[i];
          inner({ ...options, hostname: address, servername }, (err, socket) => {
            if (err) {
              const code = (err as NodeJS.ErrnoException).code ?? '';
              if (NEXT_ADDRESS_CODES.has(code) && i + 1 < addresses.length) return attempt(i + 1);
              return finish(err);
            }
            const remote = socket?.remoteAddress;
            const verdict = remote ? guard.check(remote) : { allowed: false, reason: 'invalid' as const };
            if (!verdict.allowed) {
              socket?.destroy();
              return finish(new SsrfBlockedError(verdict.reason ?? 'invalid', remote ?? 'unknown', hostname));
            }
            finish(null, socket as Socket);
          });
        };
        attempt(0);
      },
      (err: Error) => finish(err),
    );
  };

  return new Agent({ ...(opts.agent ?? {}), connect });
}

/**
 * The addresses to dial for `hostname` (an IP literal or a name), after checking every one of them; throws
 * SsrfBlockedError if any is blocked. Also usable at save time to reject an endpoint early — but the connect-time
 * check is the one that counts, because DNS can change between save and send.
 */
export async function resolveAndCheck(
  guard: SsrfGuard,
  hostname: string,
  lookup: LookupFn = defaultLookup,
): Promise<string[]> {
  const literal = parseHostToIp(hostname);
  let addresses: string[];
  if (literal) {
    addresses = [literal];
  } else {
    // WHATWG URL parsing has already normalised real URLs; a name that still fails host parsing is something
    // getaddrinfo might read differently than we do, so refuse rather than guess.
    if (!HOST_CHARS.test(hostname) || !URL.canParse(`http://${hostname}/`)) {
      throw new SsrfBlockedError('invalid', hostname);
    }
    const resolved = await lookup(hostname);
    addresses = resolved.map((r) => r.address);
    if (addresses.length === 0) {
      throw Object.assign(new Error(`DNS lookup for ${hostname} returned no addresses`), { code: 'ENOTFOUND' });
    }
  }
  for (const address of addresses) {
    const verdict = guard.check(address);
    if (!verdict.allowed) throw new SsrfBlockedError(verdict.reason ?? 'invalid', address, hostname);
  }
  // Connect to the canonical form we checked, never to a string the OS could parse differently; IPv4-mapped
  // addresses are dialled as plain IPv4 so they still work on hosts without an IPv6 stack.
  return addresses.map((a) => {
    const addr = ipaddr.parse(parseHostToIp(a) as string);
    return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
      ? (addr as ipaddr.IPv6).toIPv4Address().toString()
      : addr.toString();
  });
}
