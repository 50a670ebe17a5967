// Device dispatch of the fused optimizer updates. Not differentiable: they run under noGrad by construction.
import { shapeStr } from '../../tensor/shape.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { sameDevice } from '../common.ts';
import { adamwCpu, sgdCpu, type AdamWHyper, type SgdHyper } from './optim.cpu.ts';
import { ADAMW_PER_DISPATCH, adamwWgsl, sgdWgsl, type AdamWItem } from './optim.wgsl.ts';

function check(op: string, p: Tensor, ...rest: Tensor[]): void {
  sameDevice(op, p, ...rest);
  for (const t of [p, ...rest]) {
    if (!t.isContiguous || t.offset !== 0 || t.size !== p.size || t.dtype !== 'f32') {
      throw new Error(`${op}: parameter, gradient and state must be dense f32 of one size, found ${[p, ...rest].map((x) => `${shapeStr(x.shape)} ${x.dtype}`).join(', ')}`);
    }
  }
}

export function adamwUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamWHyper): void {
  adamwUpdateMany([{ p, g, m, v, h }]);
}

/** AdamW on many tensors: on webgpu ADAMW_PER_DISPATCH tensors per dispatch. Items share betas, eps and step. */
export function adamwUpdateMany(items: AdamWItem[]): void {
  for (const it of items) check('adamw', it.p, it.g, it.m, it.v);
  const cpu = items.filter((it) => it.p.device === 'cpu');
  for (const it of cpu) adamwCpu(it.p.storage.cpu!, it.g.storage.cpu!, it.m.storage.cpu!, it.v.storage.cpu!, it.h);
  // Sizes that are multiples of 4 are batched together so their dispatches take the vec4 kernel.
  const gpu = items.filter((it) => it.p.device !== 'cpu');
  for (const group of [gpu.filter((it) => it.p.size % 4 === 0), gpu.filter((it) => it.p.size % 4 !== 0)]) {
    for (let i = 0; i < group.length; i += ADAMW_PER_DISPATCH) adamwWgsl(group.slice(i, i + ADAMW_PER_DISPATCH));
  }
}

/** buf: the momentum buffer (null when momentum is 0). */
export function sgdUpdate(p: Tensor, g: Tensor, buf: Tensor | null, h: SgdHyper): void {
  check('sgd', p, g, ...(buf ? [buf] : []));
  if (!buf && h.momentum) throw new Error('sgd: momentum needs a buffer');
  if (p.device === 'cpu') sgdCpu(p.storage.cpu!, g.storage.cpu!, buf?.storage.cpu ?? null, h);
  else sgdWgsl(p, g, buf, h);
}
