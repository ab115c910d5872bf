/** The product's mark and name, as the top bar and the sign-in card show it. */
export function BrandMark() {
  return (
    <>
      <span class="brand-mark" aria-hidden="true">
        E
      </span>
      Escalatr
    </>
  );
}
