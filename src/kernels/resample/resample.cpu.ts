// CPU references for 2-D resampling of NCHW planes, with PyTorch's exact index arithmetic:
//   bilinear (F.interpolate mode='bilinear'): src = scale * dst (align_corners=True, scale = (in-1)/(out-1), 0 when
//     out == 1) or max(scale * (dst + 0.5) - 0.5, 0) (align_corners=False, half-pixel centres, scale = in/out or
//     1/scale_factor); i0 = floor(src), i1 = i0 + (i0 < in-1), weights (1 - l, l) with l = src - i0.
//   nearest (mode='nearest'): i = min(floor(dst * scale), in - 1), scale = in/out.
//   area (adaptive_avg_pool2d): rows [floor(o*in/out), ceil((o+1)*in/out)), each weighted 1/count.
// Every resample is separable: out[o_h, o_w] = sum over taps of wH(o_h, i_h) * wW(o_w, i_w) * x[i_h, i_w].
// PyTorch computes the source positions in float32, so these do too (Math.fround): index rounding at exact
// boundaries then matches. The backward here is the scatter form (each output adds into its taps): an oracle
// independent of the WGSL gather form, whose candidate ranges it checks.
import type { TypedArray } from '../../tensor/dtype.ts';

export type ResampleMode = 'bilinear' | 'nearest' | 'area';

export interface ResamplePlan {
  mode: ResampleMode;
  planes: number; // N * C
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  alignCorners: boolean;
  /** float32 source-index scales (see resampleScale). */
  scaleH: number;
  scaleW: number;
}

const f32 = Math.fround;

/** PyTorch's area_pixel_compute_scale / compute_scales_value, rounded to float32. */
export function resampleScale(mode: ResampleMode, inSize: number, outSize: number, alignCorners: boolean, scaleFactor?: number): number {
  if (mode === 'bilinear' && alignCorners) return outSize > 1 ? f32((inSize - 1) / (outSize - 1)) : 0;
  return scaleFactor ? f32(1 / scaleFactor) : f32(inSize / outSize);
}

export interface Taps { idx: number[]; w: number[] }

/** The input taps and weights of output index o along one axis. */
export function axisTaps(mode: ResampleMode, o: number, inSize: number, outSize: number, scale: number, alignCorners: boolean): Taps {
  if (mode === 'nearest') return { idx: [Math.min(Math.floor(f32(o * scale)), inSize - 1)], w: [1] };
  if (mode === 'area') {
    const start = Math.floor((o * inSize) / outSize);
    const end = Math.floor(((o + 1) * inSize + outSize - 1) / outSize);
    const idx = Array.from({ length: end - start }, (_, k) => start + k);
    return { idx, w: idx.map(() => 1 / (end - start)) };
  }
  const src = alignCorners ? f32(scale * o) : Math.max(f32(f32(scale * (o + 0.5)) - 0.5), 0);
  const i0 = Math.min(Math.floor(src), inSize - 1);
  const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
  const l1 = Math.min(Math.max(f32(src - i0), 0), 1);
  return i1 === i0 ? { idx: [i0], w: [1] } : { idx: [i0, i1], w: [1 - l1, l1] };
}

function allTaps(p: ResamplePlan): { h: Taps[]; w: Taps[] } {
  return {
    h: Array.from({ length: p.outH }, (_, o) => axisTaps(p.mode, o, p.inH, p.outH, p.scaleH, p.alignCorners)),
    w: Array.from({ length: p.outW }, (_, o) => axisTaps(p.mode, o, p.inW, p.outW, p.scaleW, p.alignCorners)),
  };
}

/** x (planes, inH, inW) dense -> out (planes, outH, outW). */
export function resampleCpu(x: TypedArray, out: TypedArray, p: ResamplePlan): void {
  const { h, w } = allTaps(p);
  for (let q = 0; q < p.planes; q++) {
    const xb = q * p.inH * p.inW;
    for (let oh = 0; oh < p.outH; oh++) {
      const th = h[oh]!;
      for (let ow = 0; ow < p.outW; ow++) {
        const tw = w[ow]!;
        let acc = 0;
        for (let a = 0; a < th.idx.length; a++) {
          let row = 0;
          for (let b = 0; b < tw.idx.length; b++) row += tw.w[b]! * x[xb + th.idx[a]! * p.inW + tw.idx[b]!]!;
          acc += th.w[a]! * row;
        }
        out[(q * p.outH + oh) * p.outW + ow] = acc;
      }
    }
  }
}

/** Scatter-form backward: g (planes, outH, outW) dense -> dx (planes, inH, inW). */
export function resampleBackwardCpu(g: TypedArray, dx: TypedArray, p: ResamplePlan): void {
  const { h, w } = allTaps(p);
  dx.fill(0);
  for (let q = 0; q < p.planes; q++) {
    const xb = q * p.inH * p.inW;
    for (let oh = 0; oh < p.outH; oh++) {
      const th = h[oh]!;
      for (let ow = 0; ow < p.outW; ow++) {
        const tw = w[ow]!;
        const gv = g[(q * p.outH + oh) * p.outW + ow]!;
        for (let a = 0; a < th.idx.length; a++) {
          for (let b = 0; b < tw.idx.length; b++) dx[xb + th.idx[a]! * p.inW + tw.idx[b]!] += th.w[a]! * tw.w[b]! * gv;
        }
      }
    }
  }
}
