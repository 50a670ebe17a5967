// CPU reference for softmax / log-softmax over the last axis of a contiguous (rows, n) input, with an
// optional additive mask read through broadcast strides; and the two backward kernels.
import type { TypedArray } from '../../tensor/dtype.ts';

export interface MaskOperand {
  data: TypedArray;
  rowOffsets: Int32Array | number[]; // element offset of each row's mask
  colStride: number;
}

export function softmaxCpu(x: TypedArray, rows: number, n: number, out: TypedArray, log: boolean, mask?: MaskOperand): void {
  const v = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let j = 0; j < n; j++) {
      v[j] = x[r * n + j]! + (mask ? mask.data[mask.rowOffsets[r]! + j * mask.colStride]! : 0);
      if (v[j]! > mx) mx = v[j]!;
    }
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(v[j]! - mx);
    for (let j = 0; j < n; j++) out[r * n + j] = log ? v[j]! - mx - Math.log(s) : Math.exp(v[j]! - mx) / s;
  }
}

/** softmax: dx = y (g - sum(g y)); log-softmax: dx = g - exp(y) sum(g). */
export function softmaxBackwardCpu(g: TypedArray, y: TypedArray, rows: number, n: number, out: TypedArray, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += log ? g[r * n + j]! : g[r * n + j]! * y[r * n + j]!;
    for (let j = 0; j < n; j++) {
      const i = r * n + j;
      out[i] = log ? g[i]! - Math.exp(y[i]!) * s : y[i]! * (g[i]! - s);
    }
  }
}
