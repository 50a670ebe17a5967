// The same two TMEM steps written as compositions of primitive ops (reshape/mean, matmul, concat,
// hardsigmoid, mul, add): the second oracle the fused kernels are tested against, and the baseline the
// tmem_fusion benchmark compares them with. Pooling and bilinear upsampling along one axis are linear maps,
// so they become matmuls with small constant matrices: up(X) = M_H · X · M_Wᵀ over the last two dims.
import type { Tensor } from '../../tensor/tensor.ts';
import { fromArray } from '../../tensor/tensor.ts';
import { concat, reshape, transpose } from '../movement/movement.op.ts';
import { mean } from '../reduce/reduce.op.ts';
import { matmul } from '../matmul/matmul.op.ts';
import { add, hardsigmoid, mul } from '../elementwise/elementwise.op.ts';
import { bilinearMatrix, poolMatrix } from './tmem.cpu.ts';

function axisMaps(x: Tensor, rows: Float64Array, cols: Float64Array, oh: number, ow: number): [Tensor, Tensor] {
  const [H, W] = [x.shape[2]!, x.shape[3]!];
  const my = fromArray(rows, [oh, H], { device: x.device, dtype: x.dtype });
  const mx = fromArray(cols, [ow, W], { device: x.device, dtype: x.dtype });
  return [my, transpose(mx, 0, 1)];
}

/** F.adaptive_avg_pool2d(x, (oh, ow)): exact factors as reshape + mean, otherwise pooling matrices. */
export function adaptiveAvgPool2dComposite(x: Tensor, oh: number, ow: number): Tensor {
  const [B, C, H, W] = x.shape as [number, number, number, number];
  if (H % oh === 0 && W % ow === 0) return mean(reshape(x, [B, C, oh, H / oh, ow, W / ow]), [3, 5]);
  const [my, mxT] = axisMaps(x, poolMatrix(oh, H), poolMatrix(ow, W), oh, ow);
  return matmul(matmul(my, x), mxT);
}

export function pyramidPoolConcatComposite(xs: Tensor[], oh: number, ow: number): Tensor {
  return concat(xs.map((x) => adaptiveAvgPool2dComposite(x, oh, ow)), 1);
}

/** F.interpolate(x, (H, W), mode='bilinear', align_corners=False) as two matmuls. */
export function upsampleBilinearComposite(x: Tensor, H: number, W: number): Tensor {
  const [h, w] = [x.shape[2]!, x.shape[3]!];
  if (h === H && w === W) return x;
  const [my, mxT] = axisMaps(x, bilinearMatrix(H, h), bilinearMatrix(W, w), H, W);
  return matmul(matmul(my, x), mxT);
}

export function tmemGateComposite(local: Tensor, global_: Tensor, actPre: Tensor): Tensor {
  const [H, W] = [local.shape[2]!, local.shape[3]!];
  return add(mul(local, upsampleBilinearComposite(hardsigmoid(actPre), H, W)), upsampleBilinearComposite(global_, H, W));
}
