// CPU references for the data-movement kernels: a strided copy (optionally rolled: the source index along
// dim d is (i_d - shift_d) mod size_d) and a fill. Views need no kernel.
import type { TypedArray } from '../../tensor/dtype.ts';
import { stridedWalk } from '../common.ts';

export interface CopyPlan {
  shape: number[];
  srcStrides: number[];
  dstStrides: number[];
  srcOffset: number;
  dstOffset: number;
  shifts?: number[]; // roll amounts per dim, in [0, size)
}

export function copyCpu(src: TypedArray, dst: TypedArray, p: CopyPlan): void {
  if (!p.shifts || p.shifts.every((s) => s === 0)) {
    stridedWalk(p.shape, [p.srcStrides, p.dstStrides], [p.srcOffset, p.dstOffset], (_i, so, dOff) => {
      dst[dOff] = src[so]!;
    });
    return;
  }
  const rank = p.shape.length;
  const idx = new Array<number>(rank).fill(0);
  stridedWalk(p.shape, [p.dstStrides], [p.dstOffset], (_i, dOff) => {
    let so = p.srcOffset;
    for (let d = 0; d < rank; d++) {
      const n = p.shape[d]!;
      so += ((idx[d]! - p.shifts![d]! + n) % n) * p.srcStrides[d]!;
    }
    dst[dOff] = src[so]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < p.shape[d]!) break;
      idx[d] = 0;
    }
  });
}

export function fillCpu(dst: TypedArray, shape: number[], strides: number[], offset: number, value: number): void {
  stridedWalk(shape, [strides], [offset], (_i, o) => {
    dst[o] = value;
  });
}
