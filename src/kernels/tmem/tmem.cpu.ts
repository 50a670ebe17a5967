// CPU references for TMEM's two fused kernels (FIANET.md §7.1):
//  (a) pyramid pooling: adaptive-average-pool each stage map (B, C_i, H_i, W_i) to (oh, ow) and concatenate
//      along channels into (B, ΣC_i, oh, ow); PyTorch's cells: rows floor(o·H/oh) .. ceil((o+1)·H/oh);
//  (b) the scale-aware gate: y = local ⊙ up(hsigmoid(actPre)) + up(global) with bilinear upsampling,
//      align_corners = False (half-pixel centres, source clamped at 0), h-sigmoid applied before upsampling.
// The backward references are written in scatter form (each output spreads its gradient to its sources),
// independent of the WGSL kernels' gather form, so the two check each other.
import type { TypedArray } from '../../tensor/dtype.ts';

/** A strided NCHW operand: data, element offset, strides of (b, c, h, w). */
export interface Nchw {
  data: TypedArray;
  offset: number;
  strides: readonly number[];
  C: number;
  H: number;
  W: number;
}

/** PyTorch's adaptive pooling cell [start, end) of output index o (in -> out). */
export function poolCell(o: number, inSize: number, outSize: number): [number, number] {
  return [Math.floor((o * inSize) / outSize), Math.ceil(((o + 1) * inSize) / outSize)];
}

/** out (B, ΣC_i, oh, ow) contiguous: the channel-concatenated adaptive average pools of the inputs. */
export function poolConcatCpu(xs: Nchw[], B: number, oh: number, ow: number, out: TypedArray): void {
  const Ctot = xs.reduce((s, x) => s + x.C, 0);
  let c0 = 0;
  for (const x of xs) {
    const [sb, sc, sh, sw] = x.strides as [number, number, number, number];
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < x.C; c++) {
        for (let oy = 0; oy < oh; oy++) {
          const [y0, y1] = poolCell(oy, x.H, oh);
          for (let ox = 0; ox < ow; ox++) {
            const [x0, x1] = poolCell(ox, x.W, ow);
            let s = 0;
            for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) s += x.data[x.offset + b * sb + c * sc + iy * sh + ix * sw]!;
            out[((b * Ctot + c0 + c) * oh + oy) * ow + ox] = s / ((y1 - y0) * (x1 - x0));
          }
        }
      }
    }
    c0 += x.C;
  }
}

/** dx_i (B, C_i, H_i, W_i) contiguous from g (B, ΣC_i, oh, ow) contiguous: each cell spreads g/area over its pixels. */
export function poolConcatBackwardCpu(g: TypedArray, gOff: number, dims: { C: number; H: number; W: number }[], B: number, oh: number, ow: number, outs: TypedArray[]): void {
  const Ctot = dims.reduce((s, d) => s + d.C, 0);
  let c0 = 0;
  dims.forEach((d, k) => {
    const dx = outs[k]!;
    dx.fill(0);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < d.C; c++) {
        for (let oy = 0; oy < oh; oy++) {
          const [y0, y1] = poolCell(oy, d.H, oh);
          for (let ox = 0; ox < ow; ox++) {
            const [x0, x1] = poolCell(ox, d.W, ow);
            const v = g[gOff + ((b * Ctot + c0 + c) * oh + oy) * ow + ox]! / ((y1 - y0) * (x1 - x0));
            for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) dx[((b * d.C + c) * d.H + iy) * d.W + ix]! += v;
          }
        }
      }
    }
    c0 += d.C;
  });
}

/** Bilinear taps (align_corners = False) of output index o: sources i0, i1 and the weight λ of i1. */
export function bilinearTap(o: number, inSize: number, outSize: number): [number, number, number] {
  const src = Math.max(((o + 0.5) * inSize) / outSize - 0.5, 0);
  const i0 = Math.min(Math.floor(src), inSize - 1);
  const i1 = Math.min(i0 + 1, inSize - 1);
  return [i0, i1, src - i0];
}

/** The (outSize, inSize) bilinear interpolation matrix along one axis: up(X) = My · X · Mxᵀ. */
export function bilinearMatrix(outSize: number, inSize: number): Float64Array {
  const m = new Float64Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const [i0, i1, l] = bilinearTap(o, inSize, outSize);
    m[o * inSize + i0]! += 1 - l;
    m[o * inSize + i1]! += l;
  }
  return m;
}

/** The (outSize, inSize) adaptive-average-pool matrix along one axis (the composition reference). */
export function poolMatrix(outSize: number, inSize: number): Float64Array {
  const m = new Float64Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const [s, e] = poolCell(o, inSize, outSize);
    for (let i = s; i < e; i++) m[o * inSize + i] = 1 / (e - s);
  }
  return m;
}

export const hsigmoid = (a: number) => Math.min(Math.max(a + 3, 0), 6) / 6;
const hsigmoidGrad = (a: number) => (a > -3 && a < 3 ? 1 / 6 : 0);

/** Shapes of a gate: P = B·C planes, fine (H, W), coarse (h, w); all operands contiguous. */
export interface GateDims { P: number; H: number; W: number; h: number; w: number }

/** Per output index along one axis: both source indices and the weight of the second (bilinearTap). */
function axisTaps(outSize: number, inSize: number): { i0: Int32Array; i1: Int32Array; l: Float64Array } {
  const t = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), l: new Float64Array(outSize) };
  for (let o = 0; o < outSize; o++) [t.i0[o], t.i1[o], t.l[o]] = bilinearTap(o, inSize, outSize);
  return t;
}

/** y (P, H, W) = local ⊙ up(hsigmoid(act)) + up(glob), with act and glob (P, h, w). */
export function gateCpu(local: TypedArray, lOff: number, glob: TypedArray, gOff: number, act: TypedArray, aOff: number, d: GateDims, out: TypedArray): void {
  const { P, H, W, h, w } = d;
  const ty = axisTaps(H, h);
  const tx = axisTaps(W, w);
  for (let p = 0; p < P; p++) {
    const a = aOff + p * h * w;
    const g = gOff + p * h * w;
    for (let y = 0; y < H; y++) {
      const r0 = ty.i0[y]! * w;
      const r1 = ty.i1[y]! * w;
      const ly = ty.l[y]!;
      for (let x = 0; x < W; x++) {
        const c0 = tx.i0[x]!;
        const c1 = tx.i1[x]!;
        const lx = tx.l[x]!;
        const w00 = (1 - ly) * (1 - lx);
        const w01 = (1 - ly) * lx;
        const w10 = ly * (1 - lx);
        const w11 = ly * lx;
        const up = w00 * hsigmoid(act[a + r0 + c0]!) + w01 * hsigmoid(act[a + r0 + c1]!) + w10 * hsigmoid(act[a + r1 + c0]!) + w11 * hsigmoid(act[a + r1 + c1]!);
        const gl = w00 * glob[g + r0 + c0]! + w01 * glob[g + r0 + c1]! + w10 * glob[g + r1 + c0]! + w11 * glob[g + r1 + c1]!;
        const i = (p * H + y) * W + x;
        out[i] = local[lOff + i]! * up + gl;
      }
    }
  }
}

/** Gradients of the gate: dLocal (P, H, W) = g ⊙ act; dGlob, dAct (P, h, w) by scattering g·weights. */
export function gateBackwardCpu(
  g: TypedArray, gOffset: number, local: TypedArray, lOff: number, act: TypedArray, aOff: number, d: GateDims,
  dLocal: TypedArray, dGlob: TypedArray, dAct: TypedArray,
): void {
  const { P, H, W, h, w } = d;
  const ty = axisTaps(H, h);
  const tx = axisTaps(W, w);
  dGlob.fill(0);
  dAct.fill(0);
  for (let p = 0; p < P; p++) {
    const base = p * h * w;
    for (let y = 0; y < H; y++) {
      const r0 = ty.i0[y]! * w;
      const r1 = ty.i1[y]! * w;
      const ly = ty.l[y]!;
      for (let x = 0; x < W; x++) {
        const lx = tx.l[x]!;
        const i = (p * H + y) * W + x;
        const gi = g[gOffset + i]!;
        const gl = gi * local[lOff + i]!;
        let a = 0;
        // The four taps: rows (r0, r1) x columns (i0, i1).
        for (let t = 0; t < 4; t++) {
          const c = base + (t < 2 ? r0 : r1) + (t & 1 ? tx.i1[x]! : tx.i0[x]!);
          const wt = (t < 2 ? 1 - ly : ly) * (t & 1 ? lx : 1 - lx);
          a += wt * hsigmoid(act[aOff + c]!);
          dGlob[c]! += wt * gi;
          dAct[c]! += wt * gl * hsigmoidGrad(act[aOff + c]!);
        }
        dLocal[i] = gi * a;
      }
    }
  }
}
