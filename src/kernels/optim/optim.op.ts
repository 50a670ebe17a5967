// Device dispatch of the fused optimizer updates. Not differentiable: they run under noGrad by construction.
import { shapeStr } from '../../tensor/shape.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { sameDevice } from '../common.ts';
import { adamwCpu, sgdCpu, type AdamWHyper, type SgdHyper } from './optim.cpu.ts';
import { adamwWgsl, sgdWgsl } from './optim.wgsl.ts';

function check(op: string, p: Tensor, ...rest: Tensor[]): void {
  sameDevice(op, p, ...rest);
  for (const t of [p, ...rest]) {
    if (!t.isContiguous || t.offset !== 0 || t.size !== p.size || t.dtype !== 'f32') {
      throw new Error(`${op}: parameter, gradient and state must be dense f32 of one size, found ${[p, ...rest].map((x) => `${shapeStr(x.shape)} ${x.dtype}`).join(', ')}`);
    }
  }
}

export function adamwUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamWHyper): void {
  check('adamw', p, g, m, v);
  if (p.device === 'cpu') adamwCpu(p.storage.cpu!, g.storage.cpu!, m.storage.cpu!, v.storage.cpu!, h);
  else adamwWgsl(p, g, m, v, h);
}

/** buf: the momentum buffer (null when momentum is 0). */
export function sgdUpdate(p: Tensor, g: Tensor, buf: Tensor | null, h: SgdHyper): void {
  check('sgd', p, g, ...(buf ? [buf] : []));
  if (!buf && h.momentum) throw new Error('sgd: momentum needs a buffer');
  if (p.device === 'cpu') sgdCpu(p.storage.cpu!, g.storage.cpu!, buf?.storage.cpu ?? null, h);
  else sgdWgsl(p, g, buf, h);
}
