// CPU reference for every element-wise table entry: a strided, broadcasting loop in double precision,
// stored into the output's typed array (so f32 outputs round like the GPU's, and f64 stays exact for gradcheck).
import type { TypedArray } from '../../tensor/dtype.ts';
import { stridedWalk } from '../common.ts';
import type { EwEntry } from './elementwise.table.ts';

export interface CpuOperand {
  data: TypedArray;
  strides: readonly number[]; // already broadcast to the output shape
  offset: number;
}

export function ewCpu(entry: EwEntry, inputs: CpuOperand[], outShape: readonly number[], out: TypedArray, p0 = 0, p1 = 0): void {
  const [x, y, z] = inputs;
  const f = entry.cpu;
  const xd = x!.data;
  const yd = y?.data;
  const zd = z?.data;
  stridedWalk(outShape, inputs.map((t) => t.strides), inputs.map((t) => t.offset), (i, o0, o1, o2) => {
    out[i] = f(xd[o0]!, yd ? yd[o1]! : 0, zd ? zd[o2]! : 0, p0, p1, i);
  });
}
