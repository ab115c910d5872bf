import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { BrandMark } from './Brand';

/** The card a signed-out visitor sees: the brand, a heading that takes focus, and the audience's own form. */
export function SignInCard({ heading, children }: { heading: string; children: ComponentChildren }) {
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = 'Sign in · Escalatr';
    title.current?.focus();
  }, []);
  return (
    <main class="login">
      <div class="login-card">
        <div class="brand big">
          <BrandMark />
        </div>
        <h1 ref={title} tabIndex={-1}>
          {heading}
        </h1>
        {children}
      </div>
    </main>
  );
}
