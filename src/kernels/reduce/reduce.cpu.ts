// CPU reference for reductions: for each output element, walk the reduced dims in row-major order,
// accumulating in double precision. argmax/argmin return the first extreme index, like PyTorch.
import type { TypedArray } from '../../tensor/dtype.ts';
import { stridedWalk } from '../common.ts';

export type ReduceMode = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

export interface ReducePlan {
  outShape: number[]; // kept dims (coalesced)
  outStrides: number[]; // input strides of the kept dims
  redShape: number[];
  redStrides: number[];
  offset: number;
  count: number; // elements reduced per output
}

export function reduceCpu(mode: ReduceMode, x: TypedArray, plan: ReducePlan, out: TypedArray, divisor = 1): void {
  stridedWalk(plan.outShape, [plan.outStrides], [plan.offset], (o, base) => {
    let acc = mode === 'sum' ? 0 : mode === 'max' || mode === 'argmax' ? -Infinity : Infinity;
    let best = 0;
    stridedWalk(plan.redShape, [plan.redStrides], [base], (r, off) => {
      const v = x[off]!;
      if (mode === 'sum') acc += v;
      else if (mode === 'max' || mode === 'argmax') {
        if (v > acc || (r === 0 && Number.isNaN(acc))) { acc = v; best = r; }
      } else if (v < acc) { acc = v; best = r; }
    });
    out[o] = mode === 'argmax' || mode === 'argmin' ? best : mode === 'sum' ? acc / divisor : acc;
  });
}
