import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';

/** A certificate for `names` (DNS names only, no IP), signed by itself: the CA a test trusts is the certificate. */
export async function selfSignedFor(names: string[]): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: names[0] }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * TLS in front of a plain TCP service on 127.0.0.1 (the machine's real RabbitMQ, Redis or Mosquitto): each TLS
 * connection is terminated here and its bytes piped to `targetPort`, so a client speaking amqps, rediss or mqtts
 * reaches the real broker through a real TLS handshake.
 */
export async function startTlsProxy(
  targetPort: number,
  pems: { key: string; cert: string },
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: pems.key, cert: pems.cert }, (front) => {
    const back = net.connect(targetPort, '127.0.0.1');
    for (const s of [front, back]) {
      sockets.add(s);
      s.on('error', () => {
        front.destroy();
        back.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    front.pipe(back).pipe(front);
  });
  // A handshake the client gives up on is not the proxy's failure.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A NATS server of the test's own with TLS required and JetStream on, on a free port of 127.0.0.1. NATS speaks
 * before TLS starts (its INFO says TLS is required, then both sides upgrade), so a TLS proxy in front of the
 * machine's server cannot stand in for it. Stopped and its files removed by `close`.
 */
export async function startTlsNatsServer(pems: { key: string; cert: string }): Promise<{
  port: number;
  close(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'esc-nats-tls-'));
  await writeFile(join(dir, 'cert.pem'), pems.cert);
  await writeFile(join(dir, 'key.pem'), pems.key);
  const server = spawn(
    '/usr/sbin/nats-server',
    ['-a', '127.0.0.1', '-p', '-1', '--ports_file_dir', dir, '-js', '-sd', join(dir, 'js'), '--tls'].concat([
      '--tlscert',
      join(dir, 'cert.pem'),
      '--tlskey',
      join(dir, 'key.pem'),
    ]),
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const close = async () => {
    server.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  // The server writes its ports file once it listens; wait for that, not for time to pass.
  const portsFile = join(dir, `nats-server_${server.pid}.ports`);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const watcher = watch(dir, () => void tryRead());
      server.once('exit', (code) => {
        watcher.close();
        reject(new Error(`nats-server exited (${code}) before listening`));
      });
      // Read and parsed in one chain, so a file seen half written (empty, or cut short) waits for the next change
      // instead of throwing where nothing catches it.
      const tryRead = () =>
        readFile(portsFile, 'utf8')
          .then((text) => Number(new URL((JSON.parse(text) as { nats: string[] }).nats[0]).port))
          .then(
            (port) => {
              watcher.close();
              resolve(port);
            },
            () => {}, // not there yet, or half written: the next change tells
          );
      void tryRead();
    });
    return { port, close };
  } catch (err) {
    await close();
    throw err;
  }
}
