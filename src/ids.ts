import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A random id with a type prefix, e.g. evt_3k9x…; 20 base-36 characters is ~103 bits. */
export function newId(prefix: string, length = 20): string {
  // The first 9 characters are the creation time in milliseconds (base 36, zero-padded: good until the year 5188),
  // the rest random. Rows keyed by these ids are then inserted in roughly ascending key order: every primary key and
  // unique index on an id grows at its right edge, and a commit dirties a few pages instead of one page per index
  // entry — on SQLite that is most of a complaint commit's cost. 11 random characters (57 bits) per millisecond
  // keep collisions out of reach; none of these ids is a secret (tokens and keys use their own 32 random bytes).
  // Short ids (a worker's name) are all random.
  const time = length >= TIME_CHARS + 8 ? timePart(Date.now()) : '';
  const random = length - time.length;
  const { bytes, offset } = takeRandom(random);
  let out = time;
  for (let i = 0; i < random; i++) out += ALPHABET[bytes[offset + i] % 36];
  return `${prefix}_${out}`;
}

const TIME_CHARS = 9;
const timePart = (ms: number) => ms.toString(36).padStart(TIME_CHARS, '0');

/**
 * The time newId wrote into an id (epoch ms, from its first characters); null for an id without one (a short id, or
 * one not of newId's form). Only a hint for where to look first: ids made elsewhere (a seeded history, another
 * system's import) need not carry their row's time.
 */
export function idMadeAt(id: string): number | null {
  const start = id.indexOf('_') + 1;
  if (start === 0 || id.length - start < TIME_CHARS + 8) return null;
  const time = id.slice(start, start + TIME_CHARS);
  return /^[0-9a-z]+$/.test(time) ? parseInt(time, 36) : null;
}

/**
 * The lowest id of this type made at or after `ms` (ids compare as text in creation-time order): `id >= firstIdAt(…)`
 * finds the rows made since then on the primary key alone.
 */
export const firstIdAt = (prefix: string, ms: number): string => `${prefix}_${timePart(ms)}`;

// Random bytes are drawn from a pool refilled 4 KB at a time: one call into the CSPRNG per few hundred ids instead of
// one per id (a delivery worker makes an attempt id per request, and that call showed in its profile).
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

function takeRandom(n: number): { bytes: Buffer; offset: number } {
  if (n > POOL_BYTES) return { bytes: randomFillSync(Buffer.alloc(n)), offset: 0 };
  if (poolOffset + n > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const offset = poolOffset;
  poolOffset += n;
  return { bytes: pool, offset };
}
