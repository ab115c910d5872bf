/**
 * L2-regularised logistic regression, by full-batch gradient descent with per-weight (AdaGrad) steps: small, exact
 * and dependency-free. Used for the eight cut models of the Shield model (see src/shield/scoring/model.ts).
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

export function trainBinary(rows: SparseRow[], y: number[], dims: number, l2: number, epochs = 300, lr = 0.5): Binary {
  const w = new Float64Array(dims);
  const g2 = new Float64Array(dims).fill(1e-8);
  let b = 0;
  let gb2 = 1e-8;
  const n = rows.length;
  const grad = new Float64Array(dims);
  for (let epoch = 0; epoch < epochs; epoch++) {
    grad.fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      let z = b;
      for (let j = 0; j < r.idx.length; j++) z += w[r.idx[j]!]! * r.val[j]!;
      const p = 1 / (1 + Math.exp(-z));
      const e = (p - y[i]!) / n;
      gb += e;
      for (let j = 0; j < r.idx.length; j++) grad[r.idx[j]!]! += e * r.val[j]!;
    }
    for (let d = 0; d < dims; d++) {
      const g = grad[d]! + (l2 / n) * w[d]!;
      if (g === 0) continue;
      g2[d]! += g * g;
      w[d]! -= (lr * g) / Math.sqrt(g2[d]!);
    }
    gb2 += gb * gb;
    b -= (lr * gb) / Math.sqrt(gb2);
  }
  return { w, b };
}
