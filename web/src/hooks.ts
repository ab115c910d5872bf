import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from './api';

export interface Async<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/**
 * Loads something when `deps` change. An answer that arrives after a newer request started is dropped, so
 * fast filter changes never show an older page.
 */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | null; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const generation = useRef(0);
  const run = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await load();
      if (mine === generation.current) setState({ data, error: null, loading: false });
    } catch (err) {
      if (mine === generation.current) setState((s) => ({ data: s.data, error: errorMessage(err), loading: false }));
    }
  }, deps);
  useEffect(() => {
    void run();
  }, [run]);
  return { ...state, reload: run };
}

/** Runs an action, tracking busy state and the outcome message to show beside the control. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [success, setSuccess] = useState<string | null>(null);
  const run = useCallback(
    async <T>(fn: () => Promise<T>, successMessage?: string | ((v: T) => string)): Promise<T | undefined> => {
      setBusy(true);
      setError(null);
      setSuccess(null);
      try {
        const value = await fn();
        if (successMessage) setSuccess(typeof successMessage === 'function' ? successMessage(value) : successMessage);
        return value;
      } catch (err) {
        setError(errorMessage(err));
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [],
  );
  return { busy, error, success, run, setError, setSuccess };
}
