import { sql, SqliteQueryCompiler, ValueNode, type LimitNode, type RawBuilder } from 'kysely';

/*
 * SQLite plans `ORDER BY … LIMIT ?` by the value bound to the limit, and so marks such a statement to be prepared
 * again whenever that parameter is bound: on every run, however often the statement is reused from the cache. With
 * the fifteen indexes of `complaints` to weigh, preparing the API list's page statement again was a tenth of a list
 * request's CPU; the SQLite claim's pick per receiver paid the same on every pick. A limit written into the text is
 * planned once per value, and the values are small counts (a page size, a batch size), so the texts stay few. OFFSET
 * does not take part in planning and stays a parameter: its values are many.
 */

/** A count a limit may write into the text: a whole number >= 0, nothing else. */
const isRowCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** `LIMIT n` with n in the statement's text, for statements written as SQL text. */
export function literalLimit(n: number): RawBuilder<unknown> {
  if (!isRowCount(n)) throw new TypeError(`a row limit must be a whole number >= 0, not ${n}`);
  return sql`limit ${sql.lit(n)}`;
}

/** Kysely's SQLite compiler, writing the query builder's `.limit(n)` the same way when n is a plain count. */
export class LiteralLimitSqliteCompiler extends SqliteQueryCompiler {
  protected override visitLimit(node: LimitNode): void {
    const { limit } = node;
    if (ValueNode.is(limit) && isRowCount(limit.value)) {
      this.append(`limit ${limit.value}`);
      return;
    }
    super.visitLimit(node);
  }
}
