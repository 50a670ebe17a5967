// COCO run-length encoding as pycocotools (maskApi.c) implements it, DATASETS.md §5.
// Runs are column-major (down the first column, then the next) and alternate 0,1,0,... starting
// with a (possibly empty) run of zeros. The compressed string form is a LEB128-like 6-bit code,
// with a delta against the count two places back for every count from index 3 on.
// Everything here is checked against Appendix A and against an independent Python encoder
// (tests/fixtures/data/make_fixtures.py).

import type { BinaryMask } from './types.ts';

export interface RleObject {
  /** [height, width], as COCO stores it. */
  size: [number, number];
  counts: string | number[];
}

/** Where an RLE came from, so every error can name it. */
export interface RleContext {
  file?: string;
  annId?: number | string;
}

export class CocoError extends Error {
  constructor(ctx: RleContext, detail: string) {
    const where = [ctx.file, ctx.annId !== undefined ? `annotation ${ctx.annId}` : undefined].filter(Boolean).join(': ');
    super(`${where ? where + ': ' : ''}${detail}`);
    this.name = 'CocoError';
  }
}

/** Decode a compressed counts string into run lengths (rleFrString). */
export function decodeCountsString(s: string, ctx: RleContext = {}): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new CocoError(ctx, `RLE string ends in the middle of a value (offset ${p})`);
      const code = s.charCodeAt(p);
      const c = code - 48;
      if (c < 0 || c > 63) {
        throw new CocoError(ctx, `RLE string has an invalid character ${JSON.stringify(s[p])} (code ${code}) at offset ${p}`);
      }
      if (k > 6) throw new CocoError(ctx, `RLE value at offset ${p} is longer than 7 groups`);
      // Multiplication instead of << keeps this exact past 32 bits.
      x += (c & 31) * 2 ** (5 * k);
      more = (c & 32) !== 0;
      p++;
      k++;
      if (!more && c & 16) x -= 2 ** (5 * k); // sign-extend from bit 5k
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

/** Encode run lengths as a compressed string (rleToString), byte-identical to pycocotools. */
export function encodeCountsString(counts: readonly number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!;
    let more = true;
    while (more) {
      let c = x & 0x1f;
      // Arithmetic shift on values well inside 32 bits (counts < 2^31 by the uint in maskApi.c).
      x >>= 5;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/** Run lengths of a binary mask in column-major order, starting with a zeros run (rleEncode). */
export function maskToCounts(mask: BinaryMask): number[] {
  const { width: w, height: h, data } = mask;
  const counts: number[] = [];
  let prev = 0;
  let run = 0;
  for (let c = 0; c < w; c++) {
    for (let r = 0; r < h; r++) {
      const v = data[r * w + c] ? 1 : 0;
      if (v !== prev) { counts.push(run); run = 0; prev = v; }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

/** Encode a binary mask to `{size, counts: <compressed string>}` as pycocotools.mask.encode would. */
export function encodeMask(mask: BinaryMask): { size: [number, number]; counts: string } {
  return { size: [mask.height, mask.width], counts: encodeCountsString(maskToCounts(mask)) };
}

/** Paint run lengths into a row-major 0/1 mask, checking they cover h*w exactly. */
export function countsToMask(counts: readonly number[], h: number, w: number, ctx: RleContext = {}): BinaryMask {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (!Number.isInteger(n) || n < 0) throw new CocoError(ctx, `RLE count ${i} is ${n}, not a non-negative integer`);
    total += n;
  }
  if (total !== h * w) {
    throw new CocoError(ctx, `RLE counts sum to ${total} but size ${h}x${w} needs ${h * w}`);
  }
  const data = new Uint8Array(h * w);
  let p = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (i % 2 === 1) {
      for (let q = p; q < p + n; q++) {
        const c = Math.floor(q / h);
        data[(q - c * h) * w + c] = 1;
      }
    }
    p += n;
  }
  return { width: w, height: h, data };
}

/** Decode one RLE object (string or uncompressed counts). */
export function decodeRle(rle: RleObject, ctx: RleContext = {}): BinaryMask {
  if (!rle || !Array.isArray(rle.size) || rle.size.length !== 2) throw new CocoError(ctx, 'RLE has no [h, w] size');
  const [h, w] = rle.size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) throw new CocoError(ctx, `RLE size ${JSON.stringify(rle.size)} is invalid`);
  let counts: number[];
  if (typeof rle.counts === 'string') counts = decodeCountsString(rle.counts, ctx);
  else if (Array.isArray(rle.counts)) counts = rle.counts;
  else throw new CocoError(ctx, 'RLE counts are neither a string nor a list');
  return countsToMask(counts, h, w, ctx);
}

/** Number of foreground pixels in a mask (the real `area`; the file's `area` is garbage in RRSIS-D). */
export function maskArea(mask: BinaryMask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i]!;
  return n;
}

/** Tight box [x, y, w, h] like pycocotools toBbox; [0,0,0,0] for an empty mask. */
export function maskBboxXywh(mask: BinaryMask): [number, number, number, number] {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let r = 0; r < mask.height; r++) {
    for (let c = 0; c < mask.width; c++) {
      if (!mask.data[r * mask.width + c]) continue;
      if (c < x0) x0 = c; if (c > x1) x1 = c; if (r < y0) y0 = r; if (r > y1) y1 = r;
    }
  }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}

// C casts of double to int: truncation, and x86's 0x80000000 for NaN/overflow (maskApi.c relies on
// this only for degenerate zero-length edges, where it then clamps the value away).
function cInt(x: number): number {
  if (Number.isNaN(x) || x >= 2147483648 || x < -2147483648) return -2147483648;
  return Math.trunc(x);
}

/**
 * Rasterise one polygon [x1,y1,x2,y2,...] to run lengths exactly as pycocotools rleFrPoly:
 * upsample the boundary 5x, keep the points where the boundary crosses a pixel column centre,
 * then turn their sorted column-major positions into runs.
 */
export function polygonToCounts(xy: readonly number[], h: number, w: number): number[] {
  const scale = 5;
  const k = Math.floor(xy.length / 2);
  const x: number[] = new Array(k + 1);
  const y: number[] = new Array(k + 1);
  for (let j = 0; j < k; j++) x[j] = cInt(scale * xy[2 * j]! + 0.5);
  for (let j = 0; j < k; j++) y[j] = cInt(scale * xy[2 * j + 1]! + 0.5);
  x[k] = x[0]!;
  y[k] = y[0]!;
  const u: number[] = [];
  const v: number[] = [];
  for (let j = 0; j < k; j++) {
    let xs = x[j]!, xe = x[j + 1]!, ys = y[j]!, ye = y[j + 1]!;
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) { [xs, xe] = [xe, xs]; [ys, ye] = [ye, ys]; }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) { const t = flip ? dx - d : d; u.push(t + xs); v.push(cInt(ys + s * t + 0.5)); }
    } else {
      for (let d = 0; d <= dy; d++) { const t = flip ? dy - d : d; v.push(t + ys); u.push(cInt(xs + s * t + 0.5)); }
    }
  }
  // Points on the y-boundary, downsampled back to pixel units.
  const a: number[] = [];
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j]! < u[j - 1]! ? u[j]! : u[j]! - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = v[j]! < v[j - 1]! ? v[j]! : v[j - 1]!;
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0; else if (yd > h) yd = h;
    yd = Math.ceil(yd);
    // (uint) in C: positions are non-negative here because xd >= 0 and yd >= 0.
    a.push((cInt(xd) * h + cInt(yd)) >>> 0);
  }
  a.push((h * w) >>> 0);
  a.sort((p, q) => p - q);
  let prev = 0;
  for (let j = 0; j < a.length; j++) { const t = a[j]!; a[j] = t - prev; prev = t; }
  // Merge zero-length runs: a zero means two crossings at the same place, so the runs on both
  // sides belong together.
  const b: number[] = [];
  let j = 0;
  b.push(a[j++]!);
  while (j < a.length) {
    if (a[j]! > 0) b.push(a[j++]!);
    else { j++; if (j < a.length) b[b.length - 1] += a[j++]!; }
  }
  return b;
}

/** One COCO annotation, as far as mask decoding needs it. */
export interface CocoAnnotationLike {
  id?: number;
  segmentation: unknown;
}

/**
 * The mask REFER's getMask + the RRSIS-D loader produce for an annotation:
 *   - segmentation = [[x,y,...], ...]   polygons, rasterised at the image's h x w (frPyObjects)
 *   - segmentation = {size, counts}     one RLE (counts a string, or an uncompressed list)
 *   - segmentation = [{size, counts}, ...]  several RLE parts
 * The parts are summed as uint8 and foreground is `sum == 1` exactly (DATASETS.md §3.5 step 3):
 * a pixel two parts both cover becomes background, as in the reference.
 */
export function annToMask(ann: CocoAnnotationLike, imageHeight: number, imageWidth: number, ctx: RleContext = {}): BinaryMask {
  const c: RleContext = { ...ctx, annId: ctx.annId ?? ann.id };
  const seg = ann.segmentation;
  let parts: BinaryMask[];
  if (Array.isArray(seg)) {
    if (seg.length === 0) throw new CocoError(c, 'segmentation is an empty list');
    if (Array.isArray(seg[0])) {
      parts = seg.map((poly, i) => {
        if (!Array.isArray(poly) || poly.length < 4 || poly.some((n) => typeof n !== 'number' || !Number.isFinite(n))) {
          throw new CocoError(c, `polygon ${i} is not a list of at least two finite (x, y) pairs`);
        }
        return countsToMask(polygonToCounts(poly as number[], imageHeight, imageWidth), imageHeight, imageWidth, c);
      });
    } else {
      parts = seg.map((r) => decodeRle(r as RleObject, c));
    }
  } else if (seg && typeof seg === 'object') {
    parts = [decodeRle(seg as RleObject, c)];
  } else {
    throw new CocoError(c, 'segmentation is neither polygons nor RLE');
  }
  if (parts.length === 1) return parts[0]!;
  const { width, height } = parts[0]!;
  const sum = new Uint8Array(width * height);
  for (const m of parts) {
    if (m.width !== width || m.height !== height) throw new CocoError(c, 'RLE parts have different sizes');
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + m.data[i]!) & 0xff;
  }
  for (let i = 0; i < sum.length; i++) sum[i] = sum[i] === 1 ? 1 : 0;
  return { width, height, data: sum };
}
