import type { ComponentChildren } from 'preact';
import { useId } from 'preact/hooks';

interface FieldProps {
  label: string;
  hint?: ComponentChildren;
  error?: string | null;
  /** A non-blocking note (shown like an error, in amber). */
  warning?: string | null;
  children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => ComponentChildren;
  class?: string;
}

/** A labelled control with its hint and validation message wired up for screen readers. */
function Field({ label, hint, error, warning, children, class: cls }: FieldProps) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const msgId = error || warning ? `${id}-msg` : undefined;
  const describedBy = [hintId, msgId].filter(Boolean).join(' ') || undefined;
  return (
    <div class={`field ${cls ?? ''}`}>
      <label for={id}>{label}</label>
      {children({ id, describedBy, invalid: Boolean(error) })}
      {hint && (
        <p class="hint" id={hintId}>
          {hint}
        </p>
      )}
      {error ? (
        <p class="field-error" id={msgId} role="alert">
          {error}
        </p>
      ) : warning ? (
        <p class="field-warning" id={msgId} role="status">
          {warning}
        </p>
      ) : null}
    </div>
  );
}

interface InputProps {
  label: string;
  value: string;
  onValue: (v: string) => void;
  hint?: ComponentChildren;
  error?: string | null;
  warning?: string | null;
  type?: 'text' | 'email' | 'password' | 'url' | 'number' | 'datetime-local' | 'date' | 'search';
  placeholder?: string;
  maxLength?: number;
  min?: string;
  max?: string;
  step?: string;
  inputMode?: 'text' | 'decimal' | 'numeric' | 'url' | 'email';
  autoComplete?: string;
  autoCapitalize?: 'none' | 'characters' | 'words' | 'sentences';
  required?: boolean;
  onBlur?: () => void;
  class?: string;
}

export function TextField({ label, value, onValue, hint, error, warning, class: cls, ...rest }: InputProps) {
  return (
    <Field label={label} hint={hint} error={error} warning={warning} class={cls}>
      {({ id, describedBy, invalid }) => (
        <input
          id={id}
          value={value}
          onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          // Preact 11 types <input> as a union keyed by `type`; these props are plain attributes.
          {...(rest as Record<string, unknown>)}
        />
      )}
    </Field>
  );
}

interface AreaProps {
  label: string;
  value: string;
  onValue: (v: string) => void;
  hint?: ComponentChildren;
  error?: string | null;
  rows?: number;
  maxLength?: number;
  placeholder?: string;
}

export function TextArea({ label, value, onValue, hint, error, ...rest }: AreaProps) {
  return (
    <Field label={label} hint={hint} error={error}>
      {({ id, describedBy, invalid }) => (
        <textarea
          id={id}
          value={value}
          onInput={(e) => onValue((e.currentTarget as HTMLTextAreaElement).value)}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          {...rest}
        />
      )}
    </Field>
  );
}

interface SelectProps {
  label: string;
  value: string;
  onValue: (v: string) => void;
  options: Array<{ value: string; label: string }>;
  hint?: ComponentChildren;
  error?: string | null;
  disabled?: boolean;
  class?: string;
}

export function SelectField({ label, value, onValue, options, hint, error, disabled, class: cls }: SelectProps) {
  return (
    <Field label={label} hint={hint} error={error} class={cls}>
      {({ id, describedBy }) => (
        <select
          id={id}
          value={value}
          disabled={disabled}
          aria-describedby={describedBy}
          onChange={(e) => onValue((e.currentTarget as HTMLSelectElement).value)}
        >
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
