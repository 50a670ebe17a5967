// CPU references for row gathers (embedding lookup: out[i, :] = W[idx[i], :]) and their scatter-add
// backward (dW[idx[i], :] += g[i, :], in index order, so the result is deterministic).
import type { TypedArray } from '../../tensor/dtype.ts';

export function gatherRowsCpu(w: TypedArray, wOff: number, idx: TypedArray, idxOff: number, n: number, d: number, out: TypedArray, rows: number): void {
  for (let i = 0; i < n; i++) {
    const r = idx[idxOff + i]!;
    if (r < 0 || r >= rows || !Number.isInteger(r)) throw new Error(`embedding: index ${r} out of range [0, ${rows})`);
    for (let j = 0; j < d; j++) out[i * d + j] = w[wOff + r * d + j]!;
  }
}

export function scatterAddRowsCpu(g: TypedArray, idx: TypedArray, idxOff: number, n: number, d: number, out: TypedArray): void {
  for (let i = 0; i < n; i++) {
    const r = idx[idxOff + i]!;
    for (let j = 0; j < d; j++) out[r * d + j] = out[r * d + j]! + g[i * d + j]!;
  }
}
