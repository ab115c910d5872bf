import type { ApiKeysTable, CompaniesTable } from '../storage/schema.js';

/** Who a verified API key speaks for: its company and scope. */
export interface ApiKeyPrincipal {
  keyId: string;
  companyId: string;
  companyCode: string;
  plan: CompaniesTable['plan'];
  scope: ApiKeysTable['scope'];
  label: string;
}

/**
 * How long this process answers a verified API key from memory before reading it from the store again. A change made
 * through this process takes effect on its next request (`forgetKey`, `forgetCompany`); one made by another process
 * (the CLI, another API process) as soon as this process hears of its commit (the 'credentials' wake-up, `forgetAll`:
 * PostgreSQL's NOTIFY, or on SQLite the watched commit counter). This bound is what is left when it does not hear:
 * while its LISTEN connection is down, or for a write made past the domain's functions.
 */
export const API_KEY_CACHE_MS = 5_000;

/** Keys served from memory at once; past it the oldest entry is dropped (it is read from the store again on use). */
const MAX_ENTRIES = 10_000;

interface Entry {
  principal: ApiKeyPrincipal;
  /** When the entry was read from the store (the process clock): it is used until API_KEY_CACHE_MS after that. */
  readAt: number;
}

/**
 * The API keys this process verified lately, by the SHA-256 of the presented key (the key itself is never kept):
 * the per-request key lookup, which was a large share of an API request's work, runs once per key per
 * API_KEY_CACHE_MS instead. Only keys that verified are kept; an unknown, revoked or malformed key is looked up every
 * time, so they all still cost the same and get the same 401.
 */
export class ApiKeyCache {
  private readonly byHash = new Map<string, Entry>();
  /** Moves on every forget: a store read that started before a revocation must not put its answer back. */
  private generation = 0;

  get(hash: string, now: number): ApiKeyPrincipal | null {
    const entry = this.byHash.get(hash);
    if (!entry) return null;
    // A clock that went back counts as expired too: never trust an entry whose age is unknown.
    if (now - entry.readAt >= API_KEY_CACHE_MS || now < entry.readAt) {
      this.byHash.delete(hash);
      return null;
    }
    return entry.principal;
  }

  /** Taken before reading a key from the store, and handed back to `set` with what was read. */
  stamp(): number {
    return this.generation;
  }

  /**
   * Keeps a key read from the store, unless something was forgotten since the read began (`stamp`): that read may
   * have seen the key before its revocation committed, and would put a revoked key back for API_KEY_CACHE_MS.
   */
  set(hash: string, principal: ApiKeyPrincipal, now: number, stamp: number): void {
    if (stamp !== this.generation) return;
    this.byHash.delete(hash);
    if (this.byHash.size >= MAX_ENTRIES) this.byHash.delete(this.byHash.keys().next().value!);
    this.byHash.set(hash, { principal, readAt: now });
  }

  /** A key was revoked through this process: its next request reads the store (and is refused). */
  forgetKey(keyId: string): void {
    this.generation++;
    for (const [hash, entry] of this.byHash) if (entry.principal.keyId === keyId) this.byHash.delete(hash);
  }

  /** A key was revoked or a plan changed somewhere (another process's notification): every key is read again. */
  forgetAll(): void {
    this.generation++;
    this.byHash.clear();
  }

  /** A company's plan changed through this process: its keys are read again (a lower plan refuses them). */
  forgetCompany(companyId: string): void {
    this.generation++;
    for (const [hash, entry] of this.byHash) if (entry.principal.companyId === companyId) this.byHash.delete(hash);
  }
}
