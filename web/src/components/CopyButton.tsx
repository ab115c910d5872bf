import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api';

/** Writes to the clipboard; falls back to a selected textarea where the async Clipboard API is unavailable. */
async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // permission refused: try the older way below
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.appendChild(area);
  area.select();
  const done = document.execCommand('copy');
  area.remove();
  if (!done) throw new Error('Copy is not available in this browser; select the text and copy it by hand.');
}

interface Props {
  /** The text, or a function that fetches it (a secret is only loaded when needed). */
  text: string | (() => Promise<string>);
  label?: string;
  /** What is being copied, for screen readers: "Copy API key". */
  what: string;
}

export function CopyButton({ text, label = 'Copy', what }: Props) {
  const [state, setState] = useState<'idle' | 'copied' | 'error'>('idle');
  const [message, setMessage] = useState('');
  useEffect(() => {
    if (state !== 'copied') return;
    const t = setTimeout(() => setState('idle'), 2500);
    return () => clearTimeout(t);
  }, [state]);
  const onClick = async () => {
    try {
      await copyText(typeof text === 'string' ? text : await text());
      setState('copied');
      setMessage(`${what} copied to the clipboard`);
    } catch (err) {
      setState('error');
      setMessage(errorMessage(err));
    }
  };
  return (
    <>
      <button type="button" class="btn" onClick={onClick} aria-label={`${label} ${what}`}>
        {state === 'copied' ? 'Copied' : label}
      </button>
      <span class={state === 'error' ? 'field-error inline' : 'sr-only'} role="status">
        {state === 'idle' ? '' : message}
      </span>
    </>
  );
}
