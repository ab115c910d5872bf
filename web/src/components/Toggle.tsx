import { useId } from 'preact/hooks';

interface ToggleProps {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  disabled?: boolean;
  /** Words for the two states, shown beside the switch. */
  states?: [on: string, off: string];
  /** A fuller accessible name than the visible label ("Active: Legal threats"), where several switches share a page. */
  srLabel?: string;
}

/** An on/off switch: a button with role="switch", so Space and Enter toggle it and screen readers say its state. */
export function Toggle({ label, checked, onChange, disabled, states = ['Enabled', 'Disabled'], srLabel }: ToggleProps) {
  const id = useId();
  return (
    <div class="toggle-row">
      <span class="toggle-label" id={`${id}-label`} aria-hidden={srLabel ? true : undefined}>
        {label}
      </span>
      <button
        type="button"
        role="switch"
        class="switch"
        aria-checked={checked}
        aria-labelledby={srLabel ? undefined : `${id}-label`}
        aria-label={srLabel}
        disabled={disabled}
        onClick={() => onChange(!checked)}
      >
        <span class="switch-thumb" aria-hidden="true" />
      </button>
      <span class={`toggle-state ${checked ? 'on' : 'off'}`} aria-hidden="true">
        {checked ? states[0] : states[1]}
      </span>
    </div>
  );
}
