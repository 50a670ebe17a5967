// FIANet's training loss (FIANET.md §9) on 2-D logits z (B, C, H, W), class axis = dim 1, and integer labels
// y (B, H, W): ceCoef · weighted CE (PyTorch's weighted mean over all B·H·W pixels) + diceCoef · Σ_{b,k} Dice,
// fused into a forward of two dispatches and a backward of one (loss.wgsl.ts). The scalar loss is a view of
// the stats vector the forward writes, so the CE and Dice components come for free as two more views, to be
// logged later without an extra readback or kernel.
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { contiguous } from '../movement/movement.op.ts';
import { sameDevice } from '../common.ts';
import { segLossBackwardCpu, segLossForwardCpu, statsLength, type SegLossParams } from './loss.cpu.ts';
import { SEG_LOSS_MAX_CLASSES, segLossBackwardWgsl, segLossForwardWgsl, segLossPartialsCount } from './loss.wgsl.ts';

/** FIANet's class weights: 0.9 background, 1.1 object. */
export const FIANET_CLASS_WEIGHTS: readonly number[] = [0.9, 1.1];

export interface SegLossOptions {
  /** (C) class weights of the cross-entropy term; default [0.9, 1.1] (FIANet), all ones when C != 2. */
  weight?: readonly number[];
  /** Coefficient of the CE term (default 0.9). */
  ceCoef?: number;
  /** Coefficient of the summed Dice term (default 0.1). */
  diceCoef?: number;
  /** Dice smoothing (default 1e-6). */
  eps?: number;
}

export interface SegLossResult {
  /** The scalar ceCoef·CE + diceCoef·ΣD, differentiable. */
  loss: Tensor;
  /** The weighted cross-entropy, a graph-free scalar view (for logging). */
  ce: Tensor;
  /** Σ_{b,k} D_bk, a graph-free scalar view (for logging). */
  dice: Tensor;
}

interface Attrs { q: SegLossParams; parts: Tensor[] }

function kernelParams(z: Tensor, y: Tensor, o: SegLossOptions, op: string): SegLossParams {
  if (z.rank !== 4 || y.rank !== 3 || y.shape[0] !== z.shape[0] || y.shape[1] !== z.shape[2] || y.shape[2] !== z.shape[3]) {
    throw new Error(`${op}: expected logits (B, C, H, W) and labels (B, H, W), found ${shapeStr(z.shape)} and ${shapeStr(y.shape)}`);
  }
  if (y.dtype !== 'i32' && y.dtype !== 'u32') throw new Error(`${op}: labels must be i32 or u32, found ${y.dtype}`);
  if (z.dtype !== 'f32' && z.dtype !== 'f64') throw new Error(`${op}: logits must be f32 (f64 on cpu), found ${z.dtype}`);
  sameDevice(op, z, y);
  const [B, C, H, W] = z.shape as [number, number, number, number];
  if (B * H * W === 0 || C === 0) throw new Error(`${op}: empty logits ${shapeStr(z.shape)}`);
  if (B > 65535 || H * W > 65535 * 2048) throw new Error(`${op}: logits ${shapeStr(z.shape)} exceed one launch (B ≤ 65535, H·W ≤ 65535·2048)`);
  if (C > SEG_LOSS_MAX_CLASSES) throw new Error(`${op}: at most ${SEG_LOSS_MAX_CLASSES} classes, found C = ${C} in ${shapeStr(z.shape)}`);
  const weight = o.weight ?? (C === 2 ? FIANET_CLASS_WEIGHTS : Array.from({ length: C }, () => 1));
  if (weight.length !== C) throw new Error(`${op}: ${weight.length} class weights for C = ${C} classes`);
  return { B, C, HW: H * W, weight: [...weight], ceCoef: o.ceCoef ?? 0.9, diceCoef: o.diceCoef ?? 0.1, eps: o.eps ?? 1e-6 };
}

/** Forward without autograd: the stats vector (4 + 2BC), layout in loss.cpu.ts. */
export function segLossStats(zIn: Tensor, yIn: Tensor, q: SegLossParams): Tensor {
  const z = contiguous(zIn);
  const y = contiguous(yIn);
  const stats = empty([statsLength(q.B, q.C)], z.dtype, z.device);
  if (z.device === 'cpu') segLossForwardCpu(z.storage.cpu!, z.offset, y.storage.cpu!, y.offset, q, stats.storage.cpu!);
  else {
    const part = empty([q.B * segLossPartialsCount(q) * (3 * q.C + 2)], 'f32', z.device);
    segLossForwardWgsl(z, y, q, part, stats);
    part.dispose();
  }
  if (z !== zIn) z.dispose();
  if (y !== yIn) y.dispose();
  return stats;
}

export function segLossGradKernel(zIn: Tensor, yIn: Tensor, stats: Tensor, g: Tensor, q: SegLossParams): Tensor {
  const z = contiguous(zIn);
  const y = contiguous(yIn);
  const dz = empty(z.shape, z.dtype, z.device);
  if (z.device === 'cpu') {
    segLossBackwardCpu(z.storage.cpu!, z.offset, y.storage.cpu!, y.offset, stats.storage.cpu!.subarray(stats.offset), g.storage.cpu![g.offset]!, q, dz.storage.cpu!);
  } else segLossBackwardWgsl(z, y, stats, g, q, dz);
  if (z !== zIn) z.dispose();
  if (y !== yIn) y.dispose();
  return dz;
}

const segLossFn: FunctionDef<Attrs> = {
  name: 'segLoss',
  forward: ([z, y], a) => {
    const stats = segLossStats(z!, y!, a.q);
    const scalar = (i: number) => stats.view([], [], stats.offset + i);
    a.parts = [scalar(1), scalar(2)];
    const loss = scalar(0);
    stats.dispose();
    return loss;
  },
  setupContext: (ctx, [z, y], a, out) => {
    ctx.q = a.q;
    // The loss is element 0 of the stats vector: save the whole vector for the per-(b, k) sums.
    const stats = out.view([statsLength(a.q.B, a.q.C)], [1], out.offset);
    ctx.saveForBackward(z!, y!, stats);
    stats.dispose();
  },
  backward: (ctx, g) => {
    const [z, y, stats] = ctx.savedTensors;
    return [segLossGradKernel(z!, y!, stats!, g, ctx.q as SegLossParams), null];
  },
};

/**
 * The general fused loss: ceCoef·CE + diceCoef·Σ_{b,k} D_bk on logits (B, C, H, W) and labels (B, H, W).
 * Defaults are FIANet's (weights [0.9, 1.1], 0.9·CE + 0.1·ΣD, eps 1e-6). Labels outside [0, C) throw on the
 * cpu device; the WGSL kernels (which cannot throw) give them zero CE weight and an all-zero one-hot row.
 */
export function segLoss(logits: Tensor, target: Tensor, opts: SegLossOptions = {}): SegLossResult {
  const q = kernelParams(logits, target, opts, 'segLoss');
  const attrs: Attrs = { q, parts: [] };
  const loss = apply(segLossFn, [logits, target], attrs);
  return { loss, ce: attrs.parts[0]!, dice: attrs.parts[1]! };
}

/** FIANet's loss 0.9·CE_w + 0.1·Σ_{b,k} Dice_bk (FIANET.md §9), with its components for logging. */
export function fianetLoss(logits: Tensor, target: Tensor): SegLossResult {
  return segLoss(logits, target, { weight: FIANET_CLASS_WEIGHTS, ceCoef: 0.9, diceCoef: 0.1, eps: 1e-6 });
}

function only(r: SegLossResult): Tensor {
  r.ce.dispose();
  r.dice.dispose();
  return r.loss;
}

/**
 * F.cross_entropy(logits (B, C, H, W), target (B, H, W), weight) with PyTorch's weighted-mean reduction:
 * Σ_p w[y_p]·nll_p / Σ_p w[y_p]. Default weight: FIANet's [0.9, 1.1].
 */
export function weightedCrossEntropy2d(logits: Tensor, target: Tensor, weight: readonly number[] = FIANET_CLASS_WEIGHTS): Tensor {
  const q = kernelParams(logits, target, { weight, ceCoef: 1, diceCoef: 0 }, 'weightedCrossEntropy2d');
  return only(segLoss(logits, target, q));
}

/** FIANet's soft Dice: Σ_{b,k} [1 − (2ΣP·Y + eps)/(ΣP + ΣY + eps)] over every sample and class (background included). */
export function diceLoss(logits: Tensor, target: Tensor, eps = 1e-6): Tensor {
  const C = logits.shape[1] ?? 0;
  const q = kernelParams(logits, target, { weight: Array.from({ length: C }, () => 1), ceCoef: 0, diceCoef: 1, eps }, 'diceLoss');
  return only(segLoss(logits, target, q));
}
