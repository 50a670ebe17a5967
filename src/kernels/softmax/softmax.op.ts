// softmax and logSoftmax over the last axis with an optional additive mask (broadcast to the input), and
// crossEntropy built on logSoftmax.
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { broadcastStrides, shapeStr } from '../../tensor/shape.ts';
import { empty, fromArray, type Tensor } from '../../tensor/tensor.ts';
import { sameDevice } from '../common.ts';
import type { DType } from '../../tensor/dtype.ts';
import { softmaxBackwardCpu, softmaxCpu } from './softmax.cpu.ts';
import { softmaxBackwardWgsl, softmaxWgsl } from './softmax.wgsl.ts';
import { dense, reshape, unsqueeze } from '../movement/movement.op.ts';
import { sum, sumTo } from '../reduce/reduce.op.ts';
import { cast, div, eq, mul, neg } from '../elementwise/elementwise.op.ts';
import { stridedWalk } from '../common.ts';
import { alignBroadcast, splitForBinding } from '../split.ts';

/** The mask's broadcast row offsets over x's rows (shape[:-1]) and its stride along the row. */
function maskView(x: Tensor, mask: Tensor): { rowShape: number[]; rowStrides: number[]; colStride: number } {
  const st = broadcastStrides(mask.shape, mask.strides, x.shape);
  if (x.rank > 9) throw new Error(`softmax: rank ${x.rank} exceeds 9`);
  return { rowShape: x.shape.slice(0, -1), rowStrides: st.slice(0, -1), colStride: st[st.length - 1]! };
}

function softmaxKernel(xIn: Tensor, log: boolean, mask: Tensor | null): Tensor {
  const x = dense(xIn); // the kernels walk dense rows
  const n = x.shape[x.rank - 1]!;
  const rows = n ? x.size / n : 0;
  const out = empty(x.shape, x.dtype, x.device);
  const mView = mask ? maskView(x, mask) : null;
  if (rows === 0) return out;
  if (x.device === 'cpu') {
    let m;
    if (mask && mView) {
      const rowOffsets = new Int32Array(rows);
      stridedWalk(mView.rowShape, [mView.rowStrides], [mask.offset], (i, o) => { rowOffsets[i] = o; });
      m = { data: mask.storage.cpu!, rowOffsets, colStride: mView.colStride };
    }
    softmaxCpu(x.storage.cpu!, rows, n, out.storage.cpu!, log, m);
  } else {
    // Past the binding limit, pieces of the leading dims (whole rows; a piece stays one dense block because a dim
    // is split only once the dims before it are down to one), the mask narrowed where it is not broadcast.
    const ins = mask ? [x, mask] : [x];
    splitForBinding('softmax', out, ins, alignBroadcast(out, ins), (o, [xo, mo]) => {
      softmaxWgsl(xo!, o, o.size / n, n, log, mo ? { t: mo, ...maskView(xo!, mo) } : null);
    }, { maxDim: x.rank - 1 });
  }
  if (x !== xIn) x.dispose();
  return out;
}

export function softmaxBackwardKernel(g: Tensor, y: Tensor, log: boolean): Tensor {
  const gc = dense(g);
  const n = y.shape[y.rank - 1]!;
  const rows = n ? y.size / n : 0;
  const out = empty(y.shape, y.dtype, y.device);
  if (rows) {
    if (y.device === 'cpu') softmaxBackwardCpu(gc.storage.cpu!, y.storage.cpu!, rows, n, out.storage.cpu!, log);
    else {
      splitForBinding('softmax_backward', out, [gc, y], (_, d) => d, (o, [go, yo]) => softmaxBackwardWgsl(go!, yo!, o, o.size / n, n, log),
        { maxDim: y.rank - 1 });
    }
  }
  if (gc !== g) gc.dispose();
  return out;
}

const softmaxFn: FunctionDef<{ log: boolean }> = {
  name: 'softmax',
  forward: (xs, a) => softmaxKernel(xs[0]!, a.log, xs[1] ?? null),
  setupContext: (ctx, xs, a, out) => {
    ctx.log = a.log;
    ctx.maskShape = xs[1]?.shape;
    ctx.saveForBackward(out);
  },
  backward(ctx, g) {
    const [y] = ctx.savedTensors;
    const dx = softmaxBackwardKernel(g, y!, ctx.log as boolean);
    // An additive mask (e.g. a learned bias) gets the same gradient as the logits, summed over broadcasts.
    const dm = ctx.needsInputGrad[1] ? sumTo(dx, ctx.maskShape as number[]) : null;
    return [dx, dm];
  },
};

function checkMask(op: string, x: Tensor, mask?: Tensor | null): void {
  if (!mask) return;
  sameDevice(op, x, mask);
  try {
    broadcastStrides(mask.shape, mask.strides, x.shape);
    if (mask.rank > x.rank || mask.shape.some((d, i) => d !== 1 && d !== x.shape[x.rank - mask.rank + i])) throw new Error();
  } catch {
    throw new Error(`${op}: mask ${shapeStr(mask.shape)} does not broadcast to input ${shapeStr(x.shape)}`);
  }
  if (mask.dtype !== x.dtype) throw new Error(`${op}: mask dtype ${mask.dtype} differs from input dtype ${x.dtype}`);
}

/** softmax over the last axis of (x + mask). */
export function softmax(x: Tensor, mask?: Tensor | null): Tensor {
  checkMask('softmax', x, mask);
  return apply({ ...softmaxFn, name: 'softmax' }, mask ? [x, mask] : [x], { log: false });
}

export function logSoftmax(x: Tensor, mask?: Tensor | null): Tensor {
  checkMask('logSoftmax', x, mask);
  return apply({ ...softmaxFn, name: 'logSoftmax' }, mask ? [x, mask] : [x], { log: true });
}

/** One-hot (…, C) float rows from integer class ids (…). */
export function oneHot(target: Tensor, classes: number, dtype: DType = 'f32'): Tensor {
  const ids = fromArray(Int32Array.from({ length: classes }, (_, i) => i), [classes], { device: target.device, dtype: target.dtype });
  return cast(eq(unsqueeze(target, -1), ids), dtype);
}

/**
 * Cross-entropy of logits (N, C) against class ids (N) (i32), mean-reduced like torch.nn.CrossEntropyLoss,
 * optionally with class weights (C): then the mean is weighted, sum(w_t * nll) / sum(w_t).
 */
export function crossEntropy(logits: Tensor, target: Tensor, weight?: Tensor | null): Tensor {
  if (logits.rank !== 2 || target.rank !== 1 || target.shape[0] !== logits.shape[0]) {
    throw new Error(`crossEntropy: expected logits (N, C) and target (N), found ${shapeStr(logits.shape)} and ${shapeStr(target.shape)}`);
  }
  if (target.dtype !== 'i32' && target.dtype !== 'u32') throw new Error(`crossEntropy: target must be i32, found ${target.dtype}`);
  const C = logits.shape[1]!;
  const hot = oneHot(target, C, logits.dtype);
  const nll = neg(sum(mul(logSoftmax(logits), hot), -1));
  if (!weight) return div(sum(nll), logits.shape[0]!);
  const w = sum(mul(hot, reshape(weight, [1, C])), -1);
  return div(sum(mul(nll, w)), sum(w));
}
