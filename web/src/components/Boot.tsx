/** What shows while the session is being asked for. */
export function Boot() {
  return (
    <div class="boot" role="status">
      Loading…
    </div>
  );
}
