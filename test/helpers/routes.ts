export interface Route {
  method: string;
  path: string;
}

/** Reads `printRoutes()`'s tree back into method + full path pairs. */
export function parseRouteTree(tree: string): Route[] {
  const out: Route[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const at = line.indexOf('── ');
    if (at < 0) continue;
    const depth = (at - 1) / 4;
    const m = /^(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line.slice(at + 3))!;
    stack.length = depth;
    stack[depth] = m[1];
    if (!m[2]) continue;
    for (const method of m[2].split(', ')) out.push({ method, path: stack.join('') });
  }
  return out;
}
