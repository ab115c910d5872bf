/**
 * What text may be stored. PostgreSQL refuses NUL in text while SQLite stores it, and a lone UTF-16 surrogate is
 * written to SQLite as invalid UTF-8 and read back changed: refusing both at the boundary gives one answer on both
 * stores and keeps what is read equal to what was written.
 */

// Without the `u` flag the pattern sees UTF-16 code units, so a surrogate without its partner is matchable.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored as it is, or null when it can. */
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(value)) return 'must not contain lone UTF-16 surrogates (invalid Unicode)';
  return null;
}

export interface TextFinding {
  /** Where the string is: `destinations[0].url`, `name`; a bad property name is reported at its object. */
  field: string;
  problem: string;
}

const MAX_FIELD_CHARS = 200;

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/**
 * The first string in a parsed JSON value (or query/params object) that cannot be stored, with its path; null when
 * every string is fine. Walks with an explicit stack, so a deeply nested body cannot exhaust the call stack.
 */
export function findInvalidText(value: unknown, root = ''): TextFinding | null {
  const stack: Array<[unknown, string]> = [[value, root]];
  while (stack.length) {
    const [current, path] = stack.pop()!;
    if (typeof current === 'string') {
      const problem = textProblem(current);
      if (problem) return { field: (path || '(body)').slice(0, MAX_FIELD_CHARS), problem };
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push([current[i], join(path, i)]);
    } else if (current !== null && typeof current === 'object' && !Buffer.isBuffer(current)) {
      const keys = Object.keys(current);
      for (const key of keys) {
        const problem = textProblem(key);
        if (problem)
          return {
            field: (path || '(body)').slice(0, MAX_FIELD_CHARS),
            problem: `has a property name that ${problem}`,
          };
      }
      for (let i = keys.length - 1; i >= 0; i--)
        stack.push([(current as Record<string, unknown>)[keys[i]], join(path, keys[i])]);
    }
  }
  return null;
}
