// conv2d / conv1d with PyTorch semantics on NCHW (NCL) tensors: stride, padding, dilation, groups, optional bias.
// Forward, input gradient and weight gradient are implicit GEMMs (conv.wgsl.ts); the bias gradient is a sum.
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { sameDevice } from '../common.ts';
import { compact, copyInto, dense, squeeze, unsqueeze } from '../movement/movement.op.ts';
import { add } from '../elementwise/elementwise.op.ts';
import { fitsBinding, splitForBinding } from '../split.ts';
import { sum } from '../reduce/reduce.op.ts';
import { convForwardCpu, convInputGradCpu, convOutSize, convWeightGradCpu, type ConvGeom } from './conv.cpu.ts';
import { convForwardWgsl, convInputGradWgsl, convWeightGradWgsl } from './conv.wgsl.ts';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

const pair = (v: number | [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;

export function convGeometry(xShape: readonly number[], wShape: readonly number[], o: Conv2dOptions, op = 'conv2d'): ConvGeom {
  if (xShape.length !== 4 || wShape.length !== 4) {
    throw new Error(`${op}: expected input (B, C, H, W) and weight (Cout, Cin/groups, kH, kW), found ${shapeStr(xShape)} and ${shapeStr(wShape)}`);
  }
  const [B, Cin, H, W] = xShape as [number, number, number, number];
  const [Cout, CinG, KH, KW] = wShape as [number, number, number, number];
  const groups = o.groups ?? 1;
  const [sh, sw] = pair(o.stride, 1);
  const [ph, pw] = pair(o.padding, 0);
  const [dh, dw] = pair(o.dilation, 1);
  if (!Number.isInteger(groups) || groups < 1 || Cin % groups || Cout % groups) {
    throw new Error(`${op}: groups ${groups} must divide input channels ${Cin} and output channels ${Cout}`);
  }
  if (CinG !== Cin / groups) {
    throw new Error(`${op}: weight ${shapeStr(wShape)} expects ${CinG * groups} input channels with groups=${groups}, input ${shapeStr(xShape)} has ${Cin}`);
  }
  if ([sh, sw, dh, dw].some((v) => !Number.isInteger(v) || v < 1) || [ph, pw].some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`${op}: stride and dilation must be positive integers and padding non-negative, found stride ${sh},${sw} padding ${ph},${pw} dilation ${dh},${dw}`);
  }
  const OH = convOutSize(H, KH, sh, ph, dh);
  const OW = convOutSize(W, KW, sw, pw, dw);
  if (OH < 1 || OW < 1) {
    throw new Error(`${op}: kernel ${KH}x${KW} (dilation ${dh},${dw}) is larger than the padded input ${H + 2 * ph}x${W + 2 * pw} of ${shapeStr(xShape)}`);
  }
  return { B, Cin, H, W, Cout, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups };
}

function forwardKernel(x: Tensor, w: Tensor, bias: Tensor | null, g: ConvGeom): Tensor {
  const y = empty([g.B, g.Cout, g.OH, g.OW], x.dtype, x.device);
  if (y.size === 0) return y;
  if (x.device === 'cpu') convForwardCpu(x.storage.cpu!, w.storage.cpu!, bias?.storage.cpu ?? null, g, y.storage.cpu!);
  // Past the binding limit: pieces of the batch (split.ts).
  else splitForBinding('conv2d', y, [x, w, bias], batchAlign, (yo, [xo, wo, bo]) => convForwardWgsl(xo!, wo!, bo, { ...g, B: xo!.shape[0]! }, yo), { maxDim: 1 });
  return y;
}

/** Output dim 0 (batch) runs along the input's dim 0; weights and bias stay whole. */
const batchAlign = (i: number, d: number) => (i === 0 && d === 0 ? 0 : null);

function inputGradKernel(dy: Tensor, w: Tensor, g: ConvGeom): Tensor {
  const dx = empty([g.B, g.Cin, g.H, g.W], dy.dtype, dy.device);
  if (dy.device === 'cpu') convInputGradCpu(dy.storage.cpu!, w.storage.cpu!, g, dx.storage.cpu!);
  else splitForBinding('conv2d_input_grad', dx, [dy, w], batchAlign, (dxo, [dyo, wo]) => convInputGradWgsl(dyo!, wo!, { ...g, B: dyo!.shape[0]! }, dxo), { maxDim: 1 });
  return dx;
}

function weightGradKernel(dy: Tensor, x: Tensor, g: ConvGeom): Tensor {
  const dw = empty([g.Cout, g.Cin / g.groups, g.KH, g.KW], dy.dtype, dy.device);
  if (dy.device === 'cpu') convWeightGradCpu(dy.storage.cpu!, x.storage.cpu!, g, dw.storage.cpu!);
  else weightGradGpu(dy, x, g, dw);
  return dw;
}

/** dW = sum over the batch; past the binding limit, over halves of the batch, summed (split.ts). */
function weightGradGpu(dy: Tensor, x: Tensor, g: ConvGeom, dw: Tensor): void {
  if (fitsBinding([dy, x, dw])) {
    splitForBinding('conv2d_weight_grad', dw, [dy, x], () => null, (dwo, [dyo, xo]) => convWeightGradWgsl(dyo!, xo!, g, dwo), { maxDim: 0 });
    return;
  }
  if (g.B === 1) throw new Error(`conv2d_weight_grad: one image of ${shapeStr([1, g.Cin, g.H, g.W])} exceeds the adapter's binding limit`);
  const half = Math.ceil(g.B / 2);
  const part = (b0: number, n: number) => {
    const at = (t: Tensor) => t.view([n, ...t.shape.slice(1)], t.strides, t.offset + b0 * t.strides[0]!);
    const [dyp, xp] = [at(dy), at(x)];
    const out = empty(dw.shape, dw.dtype, dw.device);
    weightGradGpu(dyp, xp, { ...g, B: n }, out);
    dyp.dispose(); xp.dispose();
    return out;
  };
  const [p0, p1] = [part(0, half), part(half, g.B - half)];
  const total = add(p0, p1);
  copyInto(total, dw);
  [p0, p1, total].forEach((t) => t.dispose());
}

const conv2dFn: FunctionDef<ConvGeom> = {
  name: 'conv2d',
  forward: (xs, g) => forwardKernel(xs[0]!, xs[1]!, xs[2] ?? null, g),
  setupContext(ctx, xs, g) {
    ctx.geom = g;
    ctx.saveForBackward(xs[0]!, xs[1]!);
  },
  backward(ctx, gOut) {
    const g = ctx.geom as ConvGeom;
    const [x, w] = ctx.savedTensors;
    const dy = dense(gOut);
    return [
      ctx.needsInputGrad[0] ? inputGradKernel(dy, w!, g) : null,
      ctx.needsInputGrad[1] ? weightGradKernel(dy, x!, g) : null,
      ctx.needsInputGrad[2] ? sum(dy, [0, 2, 3]) : null,
    ];
  },
};

export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor {
  sameDevice('conv2d', x, weight, ...(bias ? [bias] : []));
  const g = convGeometry(x.shape, weight.shape, o);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== g.Cout)) {
    throw new Error(`conv2d: bias ${shapeStr(bias.shape)} does not match ${g.Cout} output channels`);
  }
  if (x.dtype !== 'f32' && x.dtype !== 'f64') throw new Error(`conv2d: expects f32 tensors, found ${x.dtype}`);
  // The CPU references and the bias binding index from element 0: dense operands.
  const ins = [compact(x), compact(weight), ...(bias ? [compact(bias)] : [])];
  return apply(conv2dFn, ins, g);
}

/** conv1d on (B, C, L) as a conv2d over a height-1 image. */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: { stride?: number; padding?: number; dilation?: number; groups?: number } = {}): Tensor {
  if (x.rank !== 3 || weight.rank !== 3) {
    throw new Error(`conv1d: expected input (B, C, L) and weight (Cout, Cin/groups, k), found ${shapeStr(x.shape)} and ${shapeStr(weight.shape)}`);
  }
  const y = conv2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, {
    stride: [1, o.stride ?? 1], padding: [0, o.padding ?? 0], dilation: [1, o.dilation ?? 1], groups: o.groups,
  });
  return squeeze(y, 2);
}

