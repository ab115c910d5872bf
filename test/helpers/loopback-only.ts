import net from 'node:net';
import { afterAll, beforeAll } from 'vitest';

/** Whether a connect target is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped 127.x). */
export const isLoopbackTarget = (host: unknown): boolean =>
  typeof host === 'string' && (/^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || /^::ffff:127\./i.test(host));

/**
 * A safety net for network tests: while the file runs, any TCP connection to a non-loopback address throws before
 * a packet leaves, even if the code under test is broken. Returns the list of every host connected to, for
 * assertions. (PostgreSQL connections of the DATABASE_URL run go to 127.0.0.1 and pass.)
 */
export function loopbackOnlyNetwork(): string[] {
  const originalConnect = net.Socket.prototype.connect;
  const targets: string[] = [];
  beforeAll(() => {
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      const first = Array.isArray(args[0]) ? args[0][0] : args[0];
      if (first && typeof first === 'object' && !(first as { path?: string }).path) {
        const host = (first as { host?: string }).host ?? 'localhost';
        targets.push(host);
        if (!isLoopbackTarget(host)) throw new Error(`test safety net: refused a connection to ${host}`);
      }
      return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof net.Socket.prototype.connect;
  });
  afterAll(() => {
    net.Socket.prototype.connect = originalConnect;
  });
  return targets;
}
