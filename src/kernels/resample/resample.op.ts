// Resampling ops on NCHW tensors: interpolate (PyTorch F.interpolate, modes 'bilinear' with either
// align_corners, and 'nearest'; no antialias) and adaptiveAvgPool2d. Forward and backward are the separable
// kernels of resample.wgsl.ts; the backward is a gather, so it is deterministic.
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { denseCopy } from '../norm/norm.op.ts';
import { splitForBinding } from '../split.ts';
import { resampleBackwardCpu, resampleCpu, resampleScale, type ResamplePlan } from './resample.cpu.ts';
import { resampleBackwardWgsl, resampleWgsl } from './resample.wgsl.ts';

/** Resampling without autograd: x (N, C, inH, inW) -> (N, C, outH, outW). */
export function resampleKernel(x: Tensor, p: ResamplePlan, backward = false): Tensor {
  const [N, C] = x.shape as [number, number];
  const out = backward ? empty([N, C, p.inH, p.inW], x.dtype, x.device) : empty([N, C, p.outH, p.outW], x.dtype, x.device);
  if (out.size === 0) return out;
  const xd = denseCopy(x);
  if (x.device === 'cpu') (backward ? resampleBackwardCpu : resampleCpu)(xd.storage.cpu!, out.storage.cpu!, p);
  else {
    // Past the binding limit: pieces of whole planes (batch, then channels; split.ts).
    splitForBinding('resample', out, [xd], (_, d) => d, (o, [xo]) => {
      (backward ? resampleBackwardWgsl : resampleWgsl)(xo!, o, { ...p, planes: o.shape[0]! * o.shape[1]! });
    }, { maxDim: 2 });
  }
  if (xd !== x) xd.dispose();
  return out;
}

const resampleFn: FunctionDef<ResamplePlan> = {
  name: 'resample',
  forward: ([x], p) => resampleKernel(x!, p),
  setupContext: (ctx, _xs, p) => { ctx.plan = p; },
  backward: (ctx, g) => [resampleKernel(g, ctx.plan as ResamplePlan, true)],
};

function check(op: string, x: Tensor, outH: number, outW: number): void {
  if (x.rank !== 4) throw new Error(`${op}: expected input (N, C, H, W), found ${shapeStr(x.shape)}`);
  if (!Number.isInteger(outH) || !Number.isInteger(outW) || outH < 1 || outW < 1) {
    throw new Error(`${op}: output size (${outH}, ${outW}) must be positive integers (input ${shapeStr(x.shape)})`);
  }
  if (x.shape[2]! < 1 || x.shape[3]! < 1) throw new Error(`${op}: empty spatial input ${shapeStr(x.shape)}`);
  // The kernels launch a (columns/64, rows, planes) grid: at most 65535 rows and N*C planes per launch.
  if (Math.max(x.shape[2]!, outH) > 65535 || x.shape[0]! * x.shape[1]! > 65535) throw new Error(`${op}: over 65535 rows or N*C planes in ${shapeStr(x.shape)}`);
  if (x.device === 'webgpu' && x.dtype !== 'f32') throw new Error(`${op}: webgpu kernels take f32 tensors, found ${x.dtype}`);
}

export interface InterpolateOptions {
  /** Output (H, W); or give scaleFactor (output = floor(in * factor), as PyTorch). */
  size?: number | [number, number];
  scaleFactor?: number | [number, number];
  mode?: 'nearest' | 'bilinear';
  /** bilinear only; PyTorch's default (None) behaves as false. */
  alignCorners?: boolean;
}

/**
 * torch.nn.functional.interpolate for NCHW input. With scaleFactor (and align_corners false) the source scale is
 * 1/scaleFactor as in PyTorch 1.13 (recompute_scale_factor unset); with size it is in/out.
 */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  const mode = o.mode ?? 'nearest';
  const op = `interpolate(${mode})`;
  if (mode !== 'nearest' && mode !== 'bilinear') throw new Error(`${op}: unsupported mode; expected 'nearest' or 'bilinear'`);
  if ((o.size === undefined) === (o.scaleFactor === undefined)) throw new Error(`${op}: give exactly one of size and scaleFactor`);
  if (mode === 'nearest' && o.alignCorners !== undefined) throw new Error(`${op}: alignCorners applies only to bilinear`);
  const pair = (v: number | [number, number]) => (typeof v === 'number' ? [v, v] : v) as [number, number];
  if (x.rank !== 4) throw new Error(`${op}: expected input (N, C, H, W), found ${shapeStr(x.shape)}`);
  const [inH, inW] = [x.shape[2]!, x.shape[3]!];
  const sf = o.scaleFactor !== undefined ? pair(o.scaleFactor) : null;
  const [outH, outW] = sf ? [Math.floor(inH * sf[0]), Math.floor(inW * sf[1])] : pair(o.size!);
  check(op, x, outH, outW);
  const align = mode === 'bilinear' && (o.alignCorners ?? false);
  const p: ResamplePlan = {
    mode, planes: x.shape[0]! * x.shape[1]!, inH, inW, outH, outW, alignCorners: align,
    scaleH: resampleScale(mode, inH, outH, align, sf?.[0]),
    scaleW: resampleScale(mode, inW, outW, align, sf?.[1]),
  };
  return apply({ ...resampleFn, name: mode === 'bilinear' ? 'interpolateBilinear' : 'interpolateNearest' }, [x], p);
}

/** torch.nn.functional.adaptive_avg_pool2d: x (N, C, H, W) -> (N, C, outH, outW), PyTorch's start/end windows. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | [number, number]): Tensor {
  const op = 'adaptiveAvgPool2d';
  const [outH, outW] = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
  check(op, x, outH, outW);
  const [inH, inW] = [x.shape[2]!, x.shape[3]!];
  const p: ResamplePlan = { mode: 'area', planes: x.shape[0]! * x.shape[1]!, inH, inW, outH, outW, alignCorners: false, scaleH: 0, scaleW: 0 };
  return apply({ ...resampleFn, name: op }, [x], p);
}
