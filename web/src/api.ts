/**
 * The only way to the server of the dashboard (the same JSON API admin keys use) and of the consumer portal (the
 * Consumer API): authenticated by a session cookie, with the CSRF token on every write. Errors carry the API's code
 * and message, which the pages show as they are.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ListPage<T> {
  data: T[];
  page: number;
  limit: number;
  total: number;
  /** false when more match than `total` (a list that counts up to a bound: the deliveries). */
  totalExact: boolean;
}

type Envelope = {
  success: true;
  data: unknown;
  page?: number;
  limit?: number;
  total?: number;
  total_exact?: boolean;
};

let csrfToken: string | null = null;
let sessionLost: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the API says the session is gone (expired, or signed out in another tab). */
export function onSessionLost(listener: () => void): void {
  sessionLost = listener;
}

async function request(method: string, path: string, body?: unknown): Promise<Envelope> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Could not reach the server. Check your connection and try again.');
  }
  let json: { success?: boolean; error?: { code?: string; message?: string } } | null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (!res.ok || !json || json.success !== true) {
    const error = json?.error;
    if (res.status === 401 && (path.startsWith('/api/v1') || path.startsWith('/api/consumer/v1'))) sessionLost?.();
    throw new ApiError(
      res.status,
      error?.code ?? `http_${res.status}`,
      error?.message ?? `The server answered ${res.status}`,
      (error as { details?: Record<string, unknown> } | undefined)?.details,
    );
  }
  return json as Envelope;
}

/** Builds `?a=1&b=2`, leaving out empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const api = {
  get: async <T>(path: string): Promise<T> => (await request('GET', path)).data as T,
  list: async <T>(path: string): Promise<ListPage<T>> => {
    const env = await request('GET', path);
    const data = (env.data ?? []) as T[];
    return {
      data,
      page: env.page ?? 1,
      limit: env.limit ?? data.length,
      total: env.total ?? data.length,
      totalExact: env.total_exact ?? true,
    };
  },
  post: async <T>(path: string, body?: unknown): Promise<T> => (await request('POST', path, body)).data as T,
  put: async <T>(path: string, body: unknown): Promise<T> => (await request('PUT', path, body)).data as T,
  patch: async <T>(path: string, body: unknown): Promise<T> => (await request('PATCH', path, body)).data as T,
  del: async <T>(path: string): Promise<T> => (await request('DELETE', path)).data as T,
};

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
