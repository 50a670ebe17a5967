// Image/mask transforms that reproduce the reference Python pipeline bit for bit
// (DATASETS.md §6, FIANET.md §2): Pillow BILINEAR (antialiased convolution, 22-bit fixed point,
// two passes through uint8) for images, Pillow NEAREST (incremental double accumulation) for
// masks, to_tensor + ImageNet normalisation, and the RRSIS-D training-time black boxes.
import type { BinaryMask, RgbImage } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Seeded randomness. Everything random in the data pipeline (box masking, shuffles, sentence
// choice, the synthetic generator) goes through this so a (seed, epoch, index) triple fully
// determines the outcome, independent of prefetch timing or worker scheduling.

/** Mixes any number of 32-bit integers into one 32-bit seed (murmur3-style finaliser per word). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    let k = Math.imul(p | 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: tiny, fast, good enough for augmentation and shuffles (not for cryptography). */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** Fisher-Yates in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }
}

// ---------------------------------------------------------------------------------------------
// Pillow BILINEAR (ImagingResample with the triangle filter, Resample.c).

const PRECISION_BITS = 22; // 32 - 8 - 2, as in Pillow's 8-bit path
const HALF = 1 << (PRECISION_BITS - 1);

/** Integer coefficients for one axis: output k reads in[bounds[2k] .. +bounds[2k+1]) with kk[k*ksize ..]. */
export interface AxisCoeffs {
  ksize: number;
  bounds: Int32Array; // (out, 2): xmin, n
  kk: Int32Array; // (out, ksize) fixed-point weights
}

const coeffCache = new Map<string, AxisCoeffs>();

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the triangle (bilinear) filter. */
export function bilinearCoeffs(inSize: number, outSize: number): AxisCoeffs {
  const key = `${inSize}>${outSize}`;
  const hit = coeffCache.get(key);
  if (hit) return hit;
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  // Pillow multiplies by the reciprocal rather than dividing; keep that for identical rounding.
  const ss = 1 / filterscale;
  for (let k = 0; k < outSize; k++) {
    const center = (k + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const n = xmax - xmin;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const t = Math.abs((j + xmin - center + 0.5) * ss);
      const v = t < 1 ? 1 - t : 0;
      w[j] = v;
      sum += v;
    }
    for (let j = 0; j < n; j++) {
      const v = sum !== 0 ? w[j]! / sum : w[j]!;
      kk[k * ksize + j] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[2 * k] = xmin;
    bounds[2 * k + 1] = n;
  }
  const c = { ksize, bounds, kk };
  coeffCache.set(key, c);
  return c;
}

function clip8(v: number): number {
  // v is the accumulated Int32 sum including the rounding half; Pillow's clip8.
  if (v <= 0) return 0;
  const s = v >> PRECISION_BITS;
  return s > 255 ? 255 : s;
}

/** Horizontal pass over interleaved u8 pixels: (h, inW, ch) -> (h, outW, ch). */
function resampleHorizontal(src: Uint8Array, inW: number, h: number, ch: number, outW: number): Uint8Array {
  const { ksize, bounds, kk } = bilinearCoeffs(inW, outW);
  const out = new Uint8Array(outW * h * ch);
  const rowIn = inW * ch;
  const rowOut = outW * ch;
  if (ch === 3) {
    for (let y = 0; y < h; y++) {
      const base = y * rowIn;
      let o = y * rowOut;
      for (let x = 0; x < outW; x++) {
        const xmin = bounds[2 * x]!;
        const n = bounds[2 * x + 1]!;
        const kb = x * ksize;
        let s0 = HALF, s1 = HALF, s2 = HALF;
        let p = base + xmin * 3;
        for (let j = 0; j < n; j++, p += 3) {
          const k = kk[kb + j]!;
          s0 += src[p]! * k;
          s1 += src[p + 1]! * k;
          s2 += src[p + 2]! * k;
        }
        out[o++] = clip8(s0);
        out[o++] = clip8(s1);
        out[o++] = clip8(s2);
      }
    }
    return out;
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < outW; x++) {
      const xmin = bounds[2 * x]!;
      const n = bounds[2 * x + 1]!;
      for (let c = 0; c < ch; c++) {
        let s = HALF;
        for (let j = 0; j < n; j++) s += src[y * rowIn + (xmin + j) * ch + c]! * kk[x * ksize + j]!;
        out[y * rowOut + x * ch + c] = clip8(s);
      }
    }
  }
  return out;
}

/** Vertical pass: (inH, w, ch) -> (outH, w, ch). Row-at-a-time accumulation keeps memory access linear. */
function resampleVertical(src: Uint8Array, w: number, inH: number, ch: number, outH: number): Uint8Array {
  const { ksize, bounds, kk } = bilinearCoeffs(inH, outH);
  const row = w * ch;
  const out = new Uint8Array(row * outH);
  const acc = new Int32Array(row);
  for (let y = 0; y < outH; y++) {
    const ymin = bounds[2 * y]!;
    const n = bounds[2 * y + 1]!;
    acc.fill(HALF);
    for (let j = 0; j < n; j++) {
      const k = kk[y * ksize + j]!;
      if (k === 0) continue;
      const base = (ymin + j) * row;
      for (let i = 0; i < row; i++) acc[i] += src[base + i]! * k;
    }
    const o = y * row;
    for (let i = 0; i < row; i++) out[o + i] = clip8(acc[i]!);
  }
  return out;
}

/**
 * Pillow `resize((outW, outH), BILINEAR)` on interleaved 8-bit pixels with `ch` channels.
 * Horizontal first, then vertical, each only when that axis changes (Pillow's ImagingResampleInner).
 */
export function resizeBilinearU8(data: Uint8Array, w: number, h: number, ch: number, outW: number, outH: number): Uint8Array {
  let cur = data;
  if (outW !== w) cur = resampleHorizontal(cur, w, h, ch, outW);
  if (outH !== h) cur = resampleVertical(cur, outW, h, ch, outH);
  return cur === data ? data.slice() : cur;
}

export function resizeBilinear(img: RgbImage, outW: number, outH: number): RgbImage {
  return { width: outW, height: outH, data: resizeBilinearU8(img.data, img.width, img.height, 3, outW, outH) };
}

// ---------------------------------------------------------------------------------------------
// Pillow NEAREST (ImagingScaleAffine): incremental double accumulation, not floor((k+0.5)s).

/** Source index for each output index on one axis. */
export function nearestIndex(inSize: number, outSize: number): Int32Array {
  const s = inSize / outSize;
  const idx = new Int32Array(outSize);
  let acc = s * 0.5;
  for (let k = 0; k < outSize; k++) {
    idx[k] = Math.min(Math.trunc(acc), inSize - 1);
    acc += s;
  }
  return idx;
}

/** Pillow NEAREST on a single-channel u8 plane (h, w) -> (outH, outW). */
export function resizeNearestU8(data: Uint8Array, w: number, h: number, outW: number, outH: number): Uint8Array {
  const xi = nearestIndex(w, outW);
  const yi = nearestIndex(h, outH);
  const out = new Uint8Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    const base = yi[y]! * w;
    const o = y * outW;
    for (let x = 0; x < outW; x++) out[o + x] = data[base + xi[x]!]!;
  }
  return out;
}

export function resizeNearest(mask: BinaryMask, outW: number, outH: number): BinaryMask {
  return { width: outW, height: outH, data: resizeNearestU8(mask.data, mask.width, mask.height, outW, outH) };
}

// ---------------------------------------------------------------------------------------------
// to_tensor + Normalize.

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * HWC u8 -> CHW float32, (v/255 - mean)/std per channel, written into `out` at `offset`.
 * The division by 255 and the normalisation are done in float32 steps like torchvision
 * (to_tensor: float32 div; normalize: sub then div), so values match PyTorch to the last bit.
 */
export function normalizeImageNet(img: RgbImage, out?: Float32Array, offset = 0): Float32Array {
  const hw = img.width * img.height;
  const dst = out ?? new Float32Array(3 * hw);
  // 256-entry lookup per channel: the result depends only on the byte value.
  for (let c = 0; c < 3; c++) {
    const lut = lutFor(c);
    const o = offset + c * hw;
    const src = img.data;
    for (let i = 0, p = c; i < hw; i++, p += 3) dst[o + i] = lut[src[p]!]!;
  }
  return dst;
}

const luts: Float32Array[] = [];
function lutFor(c: number): Float32Array {
  let lut = luts[c];
  if (!lut) {
    lut = new Float32Array(256);
    const f = Math.fround;
    const mean = f(IMAGENET_MEAN[c]!);
    const std = f(IMAGENET_STD[c]!);
    for (let v = 0; v < 256; v++) lut[v] = f(f(f(v / 255) - mean) / std);
    luts[c] = lut;
  }
  return lut;
}

// ---------------------------------------------------------------------------------------------
// RRSIS-D training-time occlusion (DATASETS.md §3.5.4.2, FIANET.md §2.1).

export interface BlackBoxOptions {
  seed: number;
  /** Share of training refs that get boxes (0.2 in the reference). */
  fraction?: number;
  minBoxes?: number; // 20
  maxBoxes?: number; // 60
  boxSize?: number; // 32
}

/**
 * Chooses int(fraction·N) training refs once (seeded, without replacement); each load of one of
 * them in the train split zeroes K∈[20,60] 32×32 squares on the original-resolution image.
 * The draw for a load depends only on (seed, epoch, refId), so resuming or prefetching in a
 * different order gives the same pixels. Like the reference, both corner coordinates are drawn
 * from [0, W−32] with W the image width; boxes are clipped to the image like numpy slicing.
 */
export class BlackBoxAugment {
  readonly chosen: ReadonlySet<number>;
  private readonly opts: Required<BlackBoxOptions>;

  constructor(trainRefIds: readonly number[], opts: BlackBoxOptions) {
    this.opts = { fraction: 0.2, minBoxes: 20, maxBoxes: 60, boxSize: 32, ...opts };
    const n = Math.floor(this.opts.fraction * trainRefIds.length);
    const rng = new SeededRandom(mixSeed(this.opts.seed, 0xb0c5));
    this.chosen = new Set(rng.shuffle([...trainRefIds]).slice(0, n));
  }

  applies(refId: number): boolean {
    return this.chosen.has(refId);
  }

  /** Returns a new image with boxes drawn, or the same image when the ref is not chosen. */
  apply(img: RgbImage, refId: number, epoch: number): RgbImage {
    if (!this.chosen.has(refId)) return img;
    const { minBoxes, maxBoxes, boxSize } = this.opts;
    const rng = new SeededRandom(mixSeed(this.opts.seed, epoch, refId, 0xb0c6));
    const data = img.data.slice();
    const k = rng.int(minBoxes, maxBoxes);
    const hi = img.width - boxSize;
    for (let b = 0; b < k; b++) {
      const x0 = rng.int(0, Math.max(hi, 0));
      // No clamp on y: numpy slicing in the reference clips a box that hangs off the bottom.
      const y0 = rng.int(0, Math.max(hi, 0));
      const x1 = Math.min(x0 + boxSize, img.width);
      const y1 = Math.min(y0 + boxSize, img.height);
      for (let y = y0; y < y1; y++) data.fill(0, (y * img.width + x0) * 3, (y * img.width + x1) * 3);
    }
    return { width: img.width, height: img.height, data };
  }
}
