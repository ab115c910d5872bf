import { useState } from 'preact/hooks';

/** Signs out once: the button stays disabled while the request is on its way. */
export function SignOutButton({ signOut }: { signOut: () => Promise<void> }) {
  const [signingOut, setSigningOut] = useState(false);
  return (
    <button
      type="button"
      class="btn btn-quiet"
      disabled={signingOut}
      onClick={async () => {
        setSigningOut(true);
        await signOut();
      }}
    >
      Sign out
    </button>
  );
}
