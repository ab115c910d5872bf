import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type Agent } from 'undici';
import {
  classifyAddress,
  createGuardedDispatcher,
  isSsrfBlockedError,
  parseHostToIp,
  resolveAndCheck,
  SsrfBlockedError,
  SsrfGuard,
  type AddressVerdict,
  type LookupFn,
} from '../../src/webhooks/ssrf-guard.js';

// Safety net: this machine must never open a socket to anything but loopback, even if the code under test is broken.
// Every TCP/TLS connect in this process goes through net.Socket.prototype.connect, so refuse other targets there.
const originalConnect = net.Socket.prototype.connect;
const connectTargets: string[] = [];
function isLoopbackTarget(host: unknown): boolean {
  if (typeof host !== 'string') return false;
  return (
    /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host === '::1' ||
    /^::ffff:127\.\d+\.\d+\.\d+$/i.test(host) ||
    host === '::ffff:7f00:1'
  );
}
beforeAll(() => {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const host = first && typeof first === 'object' ? ((first as { host?: string }).host ?? 'localhost') : undefined;
    if (first && typeof first === 'object' && !('path' in first && (first as { path?: string }).path)) {
      connectTargets.push(String(host));
      if (!isLoopbackTarget(host)) throw new Error(`test safety net: refused a connection to ${String(host)}`);
    }
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
});
afterAll(() => {
  net.Socket.prototype.connect = originalConnect;
});

describe('classifyAddress', () => {
  const blocked: [string, AddressVerdict['reason']][] = [
    // IPv4 loopback and its spellings
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['2130706433', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['0x7f.0.0.1', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['0x7F.1', 'loopback'],
    ['127.1', 'loopback'],
    ['017700000001', 'loopback'],
    // RFC 1918
    ['10.0.0.1', 'private'],
    ['167772161', 'private'],
    ['012.0.0.1', 'private'],
    ['0xa.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['0xc0.0xa8.1.1', 'private'],
    ['3232235777', 'private'],
    // link-local, including the cloud metadata endpoint in every spelling
    ['169.254.169.254', 'link_local'],
    ['2852039166', 'link_local'],
    ['0xa9.0xfe.0xa9.0xfe', 'link_local'],
    ['0251.0376.0251.0376', 'link_local'],
    ['169.254.0.1', 'link_local'],
    // CGNAT
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.254', 'cgnat'],
    // multicast, broadcast, unspecified
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['0.0.0.0', 'unspecified'],
    ['0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    // reserved, documentation and benchmarking ranges
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.88.99.1', 'reserved'],
    // IPv6
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'unique_local'],
    ['fd12:3456:789a::1', 'unique_local'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['febf::1', 'link_local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['ff05::1:3', 'multicast'],
    // IPv4-mapped IPv6 is judged by the IPv4 address it reaches
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:a00:1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['::ffff:169.254.169.254', 'link_local'],
    ['::ffff:100.64.0.1', 'cgnat'],
    ['::ffff:0.0.0.0', 'unspecified'],
    // NAT64 well-known prefix embeds the IPv4 target
    ['64:ff9b::a9fe:a9fe', 'link_local'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b:1::1', 'reserved'],
    // tunnelling and translation ranges whose real target we cannot see
    ['2002:7f00:1::1', 'reserved'],
    ['2002:a00:1::', 'reserved'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
    ['::ffff:0:7f00:1', 'reserved'],
    ['::7f00:1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['100::1', 'reserved'],
    ['2001:2::1', 'reserved'],
    ['5f00::1', 'reserved'],
    ['4000::1', 'reserved'],
  ];

  it.each(blocked)('blocks %s as %s', (ip, reason) => {
    expect(classifyAddress(ip)).toEqual({ allowed: false, reason });
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.32.0.1',
    '100.128.0.1',
    '192.169.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '134744072',
  ])('allows the public address %s', (ip) => {
    expect(classifyAddress(ip)).toEqual({ allowed: true });
  });

  it.each([
    '',
    'localhost',
    'example.com',
    '256.0.0.1',
    '1.2.3.4.5',
    '::ffff:999.0.0.1',
    'fe80::1::2',
    '127.0.0.1:80',
    'user@127.0.0.1',
    '127.0.0.1/8',
    ' ',
  ])('reports %j as invalid', (ip) => {
    expect(classifyAddress(ip)).toEqual({ allowed: false, reason: 'invalid' });
  });
});

describe('parseHostToIp', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['167772161', '10.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['012.0.0.1', '10.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['10.1', '10.0.0.1'],
    ['192.168.257', '192.168.1.1'],
    ['0', '0.0.0.0'],
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::FFFF:127.0.0.1', '::ffff:7f00:1'],
    ['fe80::1%25eth0', 'fe80::1'],
  ])('%s → %s', (host, ip) => {
    expect(parseHostToIp(host)).toBe(ip);
  });

  it.each([
    'localhost',
    'example.com',
    'a.1',
    '256.0.0.1',
    '1.2.3.4.5',
    'evil.com@127.0.0.1',
    '127.0.0.1/x',
    '',
    '0x7f.1.example',
  ])('returns null for %j (not an IP literal)', (host) => {
    expect(parseHostToIp(host)).toBeNull();
  });

  it('agrees with WHATWG URL parsing, which undici relies on', () => {
    for (const host of ['2130706433', '0177.0.0.1', '0x7f.0.0.1', '0x7f000001', '127.1', '012.0.0.1', '167772161']) {
      const fromUrl = new URL(`http://${host}/`).hostname;
      expect(parseHostToIp(host)).toBe(fromUrl);
      expect(classifyAddress(fromUrl)).toEqual(classifyAddress(host));
    }
    expect(new URL('http://[::ffff:127.0.0.1]/').hostname).toBe('[::ffff:7f00:1]');
    expect(parseHostToIp(new URL('http://[::ffff:127.0.0.1]/').hostname)).toBe('::ffff:7f00:1');
  });
});

describe('SsrfGuard', () => {
  it('blocks by default and lets allow-listed CIDRs through', () => {
    const none = new SsrfGuard([]);
    expect(none.check('127.0.0.1')).toEqual({ allowed: false, reason: 'loopback' });
    expect(none.check('8.8.8.8')).toEqual({ allowed: true });

    const guard = new SsrfGuard(['127.0.0.0/8', '::1/128', '10.1.0.0/16']);
    expect(guard.check('127.0.0.1')).toEqual({ allowed: true });
    expect(guard.check('127.8.9.10')).toEqual({ allowed: true });
    expect(guard.check('2130706433')).toEqual({ allowed: true });
    expect(guard.check('::ffff:127.0.0.1')).toEqual({ allowed: true });
    expect(guard.check('::1')).toEqual({ allowed: true });
    expect(guard.check('10.1.2.3')).toEqual({ allowed: true });
    expect(guard.check('10.2.0.1')).toEqual({ allowed: false, reason: 'private' });
    expect(guard.check('::ffff:10.2.0.1')).toEqual({ allowed: false, reason: 'private' });
    expect(guard.check('169.254.169.254')).toEqual({ allowed: false, reason: 'link_local' });
    expect(guard.check('fe80::1')).toEqual({ allowed: false, reason: 'link_local' });
    expect(guard.check('not-an-ip')).toEqual({ allowed: false, reason: 'invalid' });
  });

  it('matches IPv6-form allow entries for IPv4-mapped addresses', () => {
    const guard = new SsrfGuard(['::ffff:127.0.0.0/104']);
    expect(guard.check('::ffff:127.0.0.1')).toEqual({ allowed: true });
    expect(guard.check('::ffff:10.0.0.1')).toEqual({ allowed: false, reason: 'private' });
  });

  it('refuses malformed CIDRs at construction', () => {
    expect(() => new SsrfGuard(['127.0.0.1'])).toThrow(/CIDR/);
    expect(() => new SsrfGuard(['10.0.0.0/33'])).toThrow(/CIDR/);
    expect(() => new SsrfGuard(['nonsense/8'])).toThrow(/CIDR/);
  });
});

describe('resolveAndCheck (no connections)', () => {
  const fixed =
    (...addresses: string[]): LookupFn =>
    async () =>
      addresses.map((address) => ({ address, family: net.isIP(address) }));
  const guard = new SsrfGuard([]);

  it.each([
    '10.0.0.1',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    'fc00::1',
    'fe80::1',
    '::ffff:10.0.0.1',
  ])('refuses a name resolving to %s', async (address) => {
    await expect(resolveAndCheck(guard, 'hooks.example.com', fixed(address))).rejects.toBeInstanceOf(SsrfBlockedError);
  });

  it('refuses when any one of several addresses is blocked', async () => {
    const err = await resolveAndCheck(guard, 'mixed.example.com', fixed('93.184.216.34', '10.0.0.1')).catch((e) => e);
    expect(err).toBeInstanceOf(SsrfBlockedError);
    expect(err).toMatchObject({
      reason: 'private',
      address: '10.0.0.1',
      hostname: 'mixed.example.com',
      code: 'ESCALATR_SSRF_BLOCKED',
    });
    expect(isSsrfBlockedError(err)).toBe(true);
  });

  it('returns canonical addresses to dial, IPv4-mapped as plain IPv4', async () => {
    expect(
      await resolveAndCheck(guard, 'ok.example.com', fixed('93.184.216.34', '2606:4700:4700:0:0:0:0:1111')),
    ).toEqual(['93.184.216.34', '2606:4700:4700::1111']);
    expect(await resolveAndCheck(guard, 'ok.example.com', fixed('::ffff:8.8.8.8'))).toEqual(['8.8.8.8']);
  });

  it('checks IP literals without calling DNS, in any spelling', async () => {
    let calls = 0;
    const counting: LookupFn = async () => {
      calls++;
      return [];
    };
    for (const host of ['10.0.0.1', '167772161', '012.0.0.1', '[fc00::1]', '0xa9fea9fe']) {
      await expect(resolveAndCheck(guard, host, counting)).rejects.toBeInstanceOf(SsrfBlockedError);
    }
    expect(calls).toBe(0);
  });

  it('treats an empty answer as a DNS failure and refuses unparseable names', async () => {
    await expect(resolveAndCheck(guard, 'empty.example.com', fixed())).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolveAndCheck(guard, 'a b.example.com', fixed('8.8.8.8'))).rejects.toMatchObject({
      reason: 'invalid',
    });
    await expect(resolveAndCheck(guard, '999.1.1.1', fixed('8.8.8.8'))).rejects.toMatchObject({ reason: 'invalid' });
  });

  it('catches DNS that changed between save and send', async () => {
    // At save time the name pointed somewhere public (checked, never dialled)…
    expect(await resolveAndCheck(guard, 'rebind.example.com', fixed('93.184.216.34'))).toEqual(['93.184.216.34']);
    // …at send time it points at loopback.
    await expect(resolveAndCheck(guard, 'rebind.example.com', fixed('127.0.0.1'))).rejects.toMatchObject({
      reason: 'loopback',
    });
  });
});

describe('createGuardedDispatcher against loopback receivers', () => {
  let v4: http.Server;
  let v6: http.Server | null = null;
  let port4 = 0;
  let port6 = 0;
  const seen: { host: string | undefined; remote: string | undefined }[] = [];
  const dispatchers: Agent[] = [];
  let connections = 0;

  const handler: http.RequestListener = (req, res) => {
    seen.push({ host: req.headers.host, remote: req.socket.remoteAddress });
    res.end('ok');
  };

  beforeAll(async () => {
    v4 = http.createServer(handler);
    v4.on('connection', () => connections++);
    await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve));
    port4 = (v4.address() as AddressInfo).port;
    try {
      const s = http.createServer(handler);
      s.on('connection', () => connections++);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '::1', resolve);
      });
      v6 = s;
      port6 = (s.address() as AddressInfo).port;
    } catch {
      v6 = null; // no IPv6 loopback here; the ::1 cases skip themselves
    }
  });

  afterAll(async () => {
    await Promise.all(dispatchers.map((d) => d.destroy()));
    await new Promise<void>((resolve) => v4.close(() => resolve()));
    if (v6) await new Promise<void>((resolve) => v6!.close(() => resolve()));
  });

  const make = (allow: string[], lookup?: LookupFn) => {
    const d = createGuardedDispatcher(new SsrfGuard(allow), lookup ? { lookup } : {});
    dispatchers.push(d);
    return d;
  };

  async function get(url: string, dispatcher: Agent) {
    try {
      const res = await request(url, { dispatcher });
      return { status: res.statusCode, text: await res.body.text(), error: null as unknown };
    } catch (error) {
      return { status: null, text: null, error };
    }
  }

  const loopbackUrls = () => [
    `http://127.0.0.1:${port4}/`,
    `http://localhost:${port4}/`,
    `http://[::ffff:127.0.0.1]:${port4}/`,
    `http://2130706433:${port4}/`,
    `http://0x7f.1:${port4}/`,
    `http://0177.0.0.1:${port4}/`,
    `http://127.1:${port4}/`,
  ];

  it('refuses every loopback spelling without the allow-list, before any connection', async () => {
    const dispatcher = make([]);
    const before = connections;
    for (const url of loopbackUrls()) {
      const r = await get(url, dispatcher);
      expect(r.status, url).toBeNull();
      expect(r.error, url).toBeInstanceOf(SsrfBlockedError);
      expect((r.error as SsrfBlockedError).reason, url).toBe('loopback');
    }
    expect(connections).toBe(before);
  });

  it('connects to every loopback spelling once 127.0.0.0/8 is allow-listed', async () => {
    const dispatcher = make(['127.0.0.0/8']);
    for (const url of loopbackUrls()) {
      const r = await get(url, dispatcher);
      expect(r.error, url).toBeNull();
      expect(r.status, url).toBe(200);
      expect(r.text).toBe('ok');
    }
  });

  it('refuses [::1] unless ::1/128 is allow-listed', async (ctx) => {
    if (!v6) ctx.skip();
    const url = `http://[::1]:${port6}/`;
    const blocked = await get(url, make(['127.0.0.0/8']));
    expect(blocked.error).toBeInstanceOf(SsrfBlockedError);
    expect((blocked.error as SsrfBlockedError).reason).toBe('loopback');
    const allowed = await get(url, make(['::1/128']));
    expect(allowed.status).toBe(200);
  });

  it('resolves names itself on every connection and pins the checked address', async () => {
    const lookups: string[] = [];
    const toLoopback: LookupFn = async (hostname) => {
      lookups.push(hostname);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    // DNS "changed between save and send": the name now resolves to loopback, and is refused.
    const blocked = await get(`http://hooks.example.com:${port4}/`, make([], toLoopback));
    expect(blocked.error).toBeInstanceOf(SsrfBlockedError);
    expect(blocked.error).toMatchObject({ reason: 'loopback', address: '127.0.0.1', hostname: 'hooks.example.com' });
    expect(lookups).toEqual(['hooks.example.com']);

    // Allow-listed, the request goes to the pinned IP while the Host header keeps the configured name.
    seen.length = 0;
    const ok = await get(`http://hooks.example.com:${port4}/x`, make(['127.0.0.0/8'], toLoopback));
    expect(ok.status).toBe(200);
    expect(seen).toEqual([{ host: `hooks.example.com:${port4}`, remote: '127.0.0.1' }]);
  });

  it('refuses a name when any resolved address is blocked, even if the first is allowed', async () => {
    const both: LookupFn = async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ];
    const before = connections;
    const r = await get(`http://dual.example.com:${port4}/`, make(['127.0.0.0/8'], both));
    expect(r.error).toMatchObject({ reason: 'loopback', address: '::1' });
    expect(connections).toBe(before);
  });

  it('refuses 0.0.0.0 answers (which would reach this host)', async () => {
    const zero: LookupFn = async () => [{ address: '0.0.0.0', family: 4 }];
    const r = await get(`http://zero.example.com:${port4}/`, make(['127.0.0.0/8'], zero));
    expect(r.error).toMatchObject({ reason: 'unspecified' });
  });

  it('falls back to the next allowed address when one refuses the connection', async () => {
    // Nothing listens on 127.0.0.2 at the receiver's port (it is bound to 127.0.0.1 only).
    const two: LookupFn = async () => [
      { address: '127.0.0.2', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const before = connectTargets.length;
    const r = await get(`http://two.example.com:${port4}/`, make(['127.0.0.0/8'], two));
    expect(r.status).toBe(200);
    expect(connectTargets.slice(before)).toEqual(['127.0.0.2', '127.0.0.1']);
  });

  it('re-checks socket.remoteAddress after connecting (defence in depth)', async () => {
    // A guard that lets the pre-connect check through once, then applies the real policy to the connected socket.
    class FirstCheckPasses extends SsrfGuard {
      calls: string[] = [];
      override check(ip: string): AddressVerdict {
        this.calls.push(ip);
        return this.calls.length === 1 ? { allowed: true } : super.check(ip);
      }
    }
    const guard = new FirstCheckPasses([]);
    const dispatcher = createGuardedDispatcher(guard);
    dispatchers.push(dispatcher);
    seen.length = 0;
    const r = await get(`http://127.0.0.1:${port4}/`, dispatcher);
    expect(r.error).toBeInstanceOf(SsrfBlockedError);
    expect(r.error).toMatchObject({ reason: 'loopback', address: '127.0.0.1' });
    expect(guard.calls).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(seen).toEqual([]);
  });

  it('only ever opened sockets to loopback', () => {
    expect(connectTargets.length).toBeGreaterThan(0);
    expect(connectTargets.every(isLoopbackTarget)).toBe(true);
  });
});
