/**
 * L2-regularised logistic regression, by full-batch gradient descent with per-weight (AdaGrad) steps: small, exact
 * and dependency-free. Used for the eight cut models of the Shield model (see src/shield/scoring/model.ts), which are
 * fitted together over one pass of the rows per epoch (the same arithmetic as fitting each alone, much faster).
 */
export interface SparseRow {
  /** Feature index → value. */
  idx: number[];
  val: number[];
}

export interface Binary {
  w: Float64Array;
  b: number;
}

/** Fits one logistic regression per label vector in `ys` (each of rows.length 0/1 labels) over the same rows. */
export function trainBinaries(
  rows: SparseRow[],
  ys: number[][],
  dims: number,
  l2: number,
  epochs = 300,
  lr = 0.5,
): Binary[] {
  const H = ys.length;
  const n = rows.length;
  // compressed rows, for a tight inner loop
  const start = new Int32Array(n + 1);
  rows.forEach((r, i) => (start[i + 1] = start[i]! + r.idx.length));
  const idx = new Int32Array(start[n]!);
  const val = new Float64Array(start[n]!);
  rows.forEach((r, i) => {
    idx.set(r.idx, start[i]!);
    val.set(r.val, start[i]!);
  });
  const y = new Float64Array(n * H);
  ys.forEach((col, h) => col.forEach((v, i) => (y[i * H + h] = v)));
  // weights of feature d for head h at d * H + h
  const w = new Float64Array(dims * H);
  const g2 = new Float64Array(dims * H).fill(1e-8);
  const grad = new Float64Array(dims * H);
  const b = new Float64Array(H);
  const gb2 = new Float64Array(H).fill(1e-8);
  const gb = new Float64Array(H);
  const e = new Float64Array(H);
  for (let epoch = 0; epoch < epochs; epoch++) {
    grad.fill(0);
    gb.fill(0);
    for (let i = 0; i < n; i++) {
      const s = start[i]!;
      const t = start[i + 1]!;
      for (let h = 0; h < H; h++) e[h] = b[h]!;
      for (let j = s; j < t; j++) {
        const base = idx[j]! * H;
        const v = val[j]!;
        for (let h = 0; h < H; h++) e[h]! += w[base + h]! * v;
      }
      for (let h = 0; h < H; h++) {
        const err = (1 / (1 + Math.exp(-e[h]!)) - y[i * H + h]!) / n;
        e[h] = err;
        gb[h]! += err;
      }
      for (let j = s; j < t; j++) {
        const base = idx[j]! * H;
        const v = val[j]!;
        for (let h = 0; h < H; h++) grad[base + h]! += e[h]! * v;
      }
    }
    for (let k = 0; k < dims * H; k++) {
      const g = grad[k]! + (l2 / n) * w[k]!;
      if (g === 0) continue;
      g2[k]! += g * g;
      w[k]! -= (lr * g) / Math.sqrt(g2[k]!);
    }
    for (let h = 0; h < H; h++) {
      gb2[h]! += gb[h]! * gb[h]!;
      b[h]! -= (lr * gb[h]!) / Math.sqrt(gb2[h]!);
    }
  }
  return Array.from({ length: H }, (_, h) => {
    const wh = new Float64Array(dims);
    for (let d = 0; d < dims; d++) wh[d] = w[d * H + h]!;
    return { w: wh, b: b[h]! };
  });
}
