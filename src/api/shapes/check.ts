/**
 * Compile-time proof that a schema names exactly the fields of the domain value it documents. The type provider
 * already checks that a handler's answer fits its schema; this checks the other way, because the serializer drops
 * any field a schema does not name.
 */
export type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
export type Expect<T extends true> = T;
