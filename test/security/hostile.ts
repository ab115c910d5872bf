import fc from 'fast-check';

/**
 * Inputs an attacker or a broken client sends: unicode edge cases (lone surrogates, right-to-left overrides, NUL,
 * emoji, combining marks), SQL- and template-looking text, path tricks, prototype keys, numbers at the edges.
 */
const SPECIAL_STRINGS = [
  '',
  ' ',
  '\t\r\n',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff\ud800',
  '\u202eevil\u202c',
  '\ufeff{}',
  'e\u0301\u0301\u0301',
  '😀🔥'.repeat(50),
  'Ω≈ç√∫',
  "' OR '1'='1",
  "'; drop table complaints; --",
  '"; delete from events where "1"="1',
  '1; select pg_sleep(10)',
  "x' union select key_hash from api_keys --",
  '%',
  '_',
  '\\',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%00',
  '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'prototype',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '9007199254740993',
  'null',
  'true',
  'ESC-VOLT-260417-00001',
  'ESC-VOLT-260417-00001\u0000',
  'esc_' + 'A'.repeat(43),
  'csk_' + 'A'.repeat(43),
  'https://127.0.0.1/hook',
  'http://[::ffff:169.254.169.254]/',
  'a'.repeat(5000),
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map((s) => s.repeat(300)) },
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, Number.MIN_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Arrays nested this deep (a parser or validator that recurses must not fall over). */
const deeplyNested = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

/** Any JSON value of a wrong type for most fields, including deep nesting and prototype keys. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileNumber },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      null,
      true,
      false,
      [],
      {},
      [null],
      { __proto__: { admin: true } },
      JSON.parse('{"__proto__":{"polluted":1}}'),
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 3000 }).map((d) => deeplyNested(d)) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 5 }) },
);

/** Bodies that are not valid JSON, sent as application/json. */
export const MALFORMED_JSON = [
  '{',
  '}',
  '{"a":',
  '{"a":1}}',
  '[1,2',
  "{'a':1}",
  '{"a":1,}',
  'nul',
  'undefined',
  'NaN',
  '\u0000',
  '\ufeff{"a":1}',
  '{"a":"\\ud800"}',
  '{"a":"\\x41"}',
  '"just a string"',
  '12',
  'true',
  '[]',
  '['.repeat(10_000) + ']'.repeat(10_000),
  '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000),
  '{"a":1, "a":2}',
  '{"__proto__":{"polluted":true}}',
];
