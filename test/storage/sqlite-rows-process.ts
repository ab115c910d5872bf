import { sql } from 'kysely';
import { openStore } from '../../src/storage/db.js';

// Reads one statement's rows through the SQLite store and prints them as JSON: `tsx sqlite-rows-process.ts FILE SQL`.
// The rows test runs it in a process that may not compile code from strings.
const [file, text] = process.argv.slice(2);
const store = openStore({ sqliteFile: file });
try {
  const first = (await sql.raw(text).execute(store.db)).rows;
  const cached = (await sql.raw(text).execute(store.db)).rows;
  process.stdout.write(JSON.stringify({ first, cached, keys: first.map((r) => Object.keys(r as object)) }));
} finally {
  await store.close();
}
