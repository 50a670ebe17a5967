// TMEM's fused ops (FIANET.md §7.1):
//  pyramidPoolConcat([out1..out4], [15, 15]) -> (B, 1920, 15, 15): adaptive average pooling of every stage map
//    to the coarse grid and the channel concat, in one dispatch (per 4 inputs), backward one per map;
//  tmemGate(local, global_, actPre) -> local ⊙ up(hsigmoid(actPre)) + up(global_): the scale-aware gate's
//    element-wise tail with bilinear (align_corners = False) upsampling, in one dispatch, backward in two.
// The caller computes local = BN1(conv(x_l)), global_ = BN2(conv(x_g)), actPre = BN3(conv(x_g)).
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { sameDevice } from '../common.ts';
import { contiguous } from '../movement/movement.op.ts';
import { intoPieces, splitForBinding } from '../split.ts';
import { gateBackwardCpu, gateCpu, poolConcatBackwardCpu, poolConcatCpu } from './tmem.cpu.ts';
import { FDIV_LIMIT, gateBackwardWgsl, gateWgsl, POOL_GROUP, poolConcatBackwardWgsl, poolConcatWgsl, type GateShape } from './tmem.wgsl.ts';

interface PoolDims { C: number; H: number; W: number }
interface PoolAttrs { B: number; oh: number; ow: number }

function groups<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += POOL_GROUP) out.push(xs.slice(i, i + POOL_GROUP));
  return out;
}

function withChannelOffsets<T extends PoolDims>(xs: T[]): (T & { c0: number })[] {
  let c0 = 0;
  return xs.map((x) => {
    const r = { ...x, c0 };
    c0 += x.C;
    return r;
  });
}

const poolConcatFn: FunctionDef<PoolAttrs> = {
  name: 'pyramidPoolConcat',
  forward: (xs, a) => {
    const ins = withChannelOffsets(xs.map((t) => ({ t, C: t.shape[1]!, H: t.shape[2]!, W: t.shape[3]! })));
    const Ctot = ins.reduce((s, x) => s + x.C, 0);
    const out = empty([a.B, Ctot, a.oh, a.ow], xs[0]!.dtype, xs[0]!.device);
    if (out.size === 0) return out;
    if (out.device === 'cpu') {
      poolConcatCpu(ins.map((x) => ({ data: x.t.storage.cpu!, offset: x.t.offset, strides: x.t.strides, C: x.C, H: x.H, W: x.W })), a.B, a.oh, a.ow, out.storage.cpu!);
    } else {
      // Past the binding limit: pieces of the batch (split.ts).
      splitForBinding('pyramidPoolConcat', out, ins.map((x) => x.t), batchAlign, (o, ts) => intoPieces([o], ([od]) => {
        for (const g of groups(ins.map((x, k) => ({ ...x, t: ts[k]! })))) poolConcatWgsl(g, od.shape[0]!, Ctot, a.oh, a.ow, od);
      }), { maxDim: 1 });
    }
    return out;
  },
  setupContext: (ctx, xs, a) => {
    ctx.attrs = a;
    ctx.dims = xs.map((t) => ({ C: t.shape[1]!, H: t.shape[2]!, W: t.shape[3]! }));
  },
  backward: (ctx, gIn) => {
    const a = ctx.attrs as PoolAttrs;
    const dims = withChannelOffsets(ctx.dims as PoolDims[]);
    const g = contiguous(gIn);
    const Ctot = dims.reduce((s, x) => s + x.C, 0);
    const dxs = dims.map((d) => empty([a.B, d.C, d.H, d.W], g.dtype, g.device));
    if (g.device === 'cpu') {
      poolConcatBackwardCpu(g.storage.cpu!, g.offset, dims, a.B, a.oh, a.ow, dxs.map((t) => t.storage.cpu!));
    } else {
      // One gather dispatch per input map: a single launch would make lanes divide to find their map.
      dims.forEach((d, k) => {
        if (dxs[k]!.size === 0) return;
        splitForBinding('pyramidPoolConcat.backward', dxs[k]!, [g], batchAlign, (o, [go]) => intoPieces([o], ([od]) => {
          poolConcatBackwardWgsl(go!, { ...d, t: od }, od, od.shape[0]!, Ctot, a.oh, a.ow);
        }), { maxDim: 1 });
      });
    }
    return dxs;
  },
};

/**
 * Adaptive-average-pools every map xs[i] (B, C_i, H_i, W_i) to outSize (default: the last map's size, the
 * coarsest stage) and concatenates along channels: (B, ΣC_i, oh, ow). torch.cat([F.adaptive_avg_pool2d(x,
 * outSize) for x in xs], 1), with PyTorch's cells (overlapping when sizes do not divide).
 */
export function pyramidPoolConcat(xs: Tensor[], outSize?: readonly [number, number]): Tensor {
  if (xs.length === 0) throw new Error('pyramidPoolConcat: no inputs');
  const last = xs[xs.length - 1]!;
  const [oh, ow] = outSize ?? [last.shape[2] ?? 0, last.shape[3] ?? 0];
  const B = xs[0]!.shape[0]!;
  sameDevice('pyramidPoolConcat', ...xs);
  const desc = () => xs.map((x) => `${shapeStr(x.shape)} ${x.dtype}`).join(', ');
  for (const x of xs) {
    if (x.rank !== 4 || x.shape[0] !== B || x.dtype !== xs[0]!.dtype) throw new Error(`pyramidPoolConcat: expected (B, C_i, H_i, W_i) maps of one batch size and dtype, found ${desc()}`);
    if (x.shape[2] === 0 || x.shape[3] === 0) throw new Error(`pyramidPoolConcat: empty spatial size in ${desc()}`);
  }
  if (xs[0]!.dtype !== 'f32' && xs[0]!.dtype !== 'f64') throw new Error(`pyramidPoolConcat: expects f32 (f64 on cpu), found ${desc()}`);
  if (!(Number.isInteger(oh) && Number.isInteger(ow) && oh > 0 && ow > 0)) throw new Error(`pyramidPoolConcat: bad output size (${oh}, ${ow}) for ${desc()}`);
  // The kernels' float quotients (cell bounds) are exact below FDIV_LIMIT.
  if (xs.some((x) => (x.shape[2]! + 1) * oh >= FDIV_LIMIT || (x.shape[3]! + 1) * ow >= FDIV_LIMIT)) {
    throw new Error(`pyramidPoolConcat: sizes too large for the kernels, ${desc()} to (${oh}, ${ow})`);
  }
  return apply(poolConcatFn, xs, { B, oh, ow });
}

// ---- gate ------------------------------------------------------------------------------------------------
function gateShape(local: Tensor, act: Tensor): GateShape {
  const [B, C, H, W] = local.shape as [number, number, number, number];
  return { P: B * C, H, W, h: act.shape[2]!, w: act.shape[3]! };
}

/** Batch dim 0 of the output runs along every input's dim 0. */
const batchAlign = (_: number, d: number) => (d === 0 ? 0 : null);
/** Planes (batch, channel) of the output run along every input's planes. */
const planeAlign = (_: number, d: number) => (d < 2 ? d : null);

const gateFn: FunctionDef<null> = {
  name: 'tmemGate',
  forward: (ts) => {
    const [local, glob, act] = ts.map((t) => contiguous(t)) as [Tensor, Tensor, Tensor];
    const d = gateShape(local, act);
    const out = empty(local.shape, local.dtype, local.device);
    if (out.size > 0) {
      if (out.device === 'cpu') gateCpu(local.storage.cpu!, local.offset, glob.storage.cpu!, glob.offset, act.storage.cpu!, act.offset, d, out.storage.cpu!);
      else {
        // Past the binding limit: pieces of whole planes (split.ts).
        splitForBinding('tmemGate', out, [local, glob, act], planeAlign, (o, [l, gl, ac]) => intoPieces([o], ([od]) => {
          gateWgsl(l!, gl!, ac!, gateShape(l!, ac!), od);
        }), { maxDim: 2 });
      }
    }
    [local, glob, act].forEach((t, k) => { if (t !== ts[k]) t.dispose(); });
    return out;
  },
  setupContext: (ctx, [local, , act]) => ctx.saveForBackward(local!, act!),
  backward: (ctx, gIn) => {
    const [localIn, actIn] = ctx.savedTensors;
    const local = contiguous(localIn!);
    const act = contiguous(actIn!);
    const g = contiguous(gIn);
    const d = gateShape(local, act);
    const dLocal = empty(local.shape, g.dtype, g.device);
    const dGlob = empty(act.shape, g.dtype, g.device);
    const dAct = empty(act.shape, g.dtype, g.device);
    if (dLocal.size > 0) {
      if (g.device === 'cpu') {
        gateBackwardCpu(g.storage.cpu!, g.offset, local.storage.cpu!, local.offset, act.storage.cpu!, act.offset, d, dLocal.storage.cpu!, dGlob.storage.cpu!, dAct.storage.cpu!);
      } else {
        // dLocal's pieces carry the matching pieces of g, local, act, dGlob, dAct (split.ts); the kernels write
        // dense outputs, so pieces go through fresh tensors.
        splitForBinding('tmemGate.backward', dLocal, [g, local, act, dGlob, dAct], planeAlign, (o, [go, lo, ao, dgo, dao]) => {
          const dp = gateShape(lo!, ao!);
          intoPieces([o, dgo!, dao!], ([dl, dgl, da]) => {
            const v = empty([dp.P * dp.h * dp.W * 2], 'f32', g.device);
            gateBackwardWgsl(go!, lo!, ao!, dp, dl!, dgl!, da!, v);
            v.dispose();
          });
        }, { maxDim: 2 });
      }
    }
    return [dLocal, dGlob, dAct];
  },
};

/**
 * TMEM's scale-aware gate (FIANET.md §7.1): local (B, C, H, W) ⊙ up(hsigmoid(actPre)) + up(global_), with
 * global_ and actPre (B, C, h, w) upsampled bilinearly (align_corners = False) to (H, W); h-sigmoid is applied
 * at the coarse grid, before upsampling. At h = H, w = W the upsampling is the identity (stage 4).
 */
export function tmemGate(local: Tensor, global_: Tensor, actPre: Tensor): Tensor {
  sameDevice('tmemGate', local, global_, actPre);
  const desc = `local ${shapeStr(local.shape)}, global ${shapeStr(global_.shape)}, act ${shapeStr(actPre.shape)}`;
  if (local.rank !== 4 || global_.rank !== 4 || actPre.rank !== 4 ||
    global_.shape.some((d, i) => d !== actPre.shape[i]) || global_.shape[0] !== local.shape[0] || global_.shape[1] !== local.shape[1]) {
    throw new Error(`tmemGate: expected local (B, C, H, W) and global, act (B, C, h, w), found ${desc}`);
  }
  if (local.shape[2]! > 0 && local.shape[3]! > 0 && (actPre.shape[2] === 0 || actPre.shape[3] === 0)) throw new Error(`tmemGate: empty coarse map, ${desc}`);
  if (local.dtype !== global_.dtype || local.dtype !== actPre.dtype || (local.dtype !== 'f32' && local.dtype !== 'f64')) {
    throw new Error(`tmemGate: expects f32 tensors (f64 on cpu), found ${local.dtype}, ${global_.dtype}, ${actPre.dtype}`);
  }
  return apply(gateFn, [local, global_, actPre], null);
}
