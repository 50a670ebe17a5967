// CPU reference for batched strided matmul: out[b, m, n] = sum_k A[b, m, k] * B[b, k, n], accumulated in
// double precision. Operand layouts (transposes, broadcast batches) are pure strides.
import type { TypedArray } from '../../tensor/dtype.ts';
import { stridedWalk } from '../common.ts';

export interface MatmulPlan {
  batchShape: number[];
  aBatchStrides: number[];
  bBatchStrides: number[];
  M: number;
  N: number;
  K: number;
  aRow: number; // stride of A along m
  aCol: number; // stride of A along k
  bRow: number; // stride of B along k
  bCol: number; // stride of B along n
  aOffset: number;
  bOffset: number;
}

export function matmulCpu(a: TypedArray, b: TypedArray, p: MatmulPlan, out: TypedArray, bias: { data: TypedArray; offset: number } | null = null): void {
  const { M, N, K } = p;
  stridedWalk(p.batchShape, [p.aBatchStrides, p.bBatchStrides], [p.aOffset, p.bOffset], (bi, ao, bo) => {
    const ob = bi * M * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = bias ? bias.data[bias.offset + n]! : 0;
        let ai = ao + m * p.aRow;
        let bj = bo + n * p.bCol;
        for (let k = 0; k < K; k++) {
          acc += a[ai]! * b[bj]!;
          ai += p.aCol;
          bj += p.bRow;
        }
        out[ob + m * N + n] = acc;
      }
    }
  });
}
