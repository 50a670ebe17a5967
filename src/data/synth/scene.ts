// Procedural aerial-looking rasters for the synthetic datasets: textured ground, road bands and
// shaded objects, plus an id map (topmost object per pixel) from which exact target masks are cut.
// Pure CPU, no I/O, deterministic for a seed.
import { SeededRandom, mixSeed } from '../transforms.ts';
import type { BinaryMask, RgbImage } from '../types.ts';

export type Rgb = readonly [number, number, number];

/**
 * Where a local point (u, v) lands in a shape, in the shape's own frame: u along its length,
 * v across, both in [-1, 1] at the bounding ellipse/box. 0 = outside, 1 = body, 2 = detail
 * (painted with the detail colour: court lines, windshields, hatches...).
 */
export type ShapeFn = (u: number, v: number) => 0 | 1 | 2;

export interface Drawable {
  /** Index written to the id map; -1 draws paint only (no mask contribution). */
  id: number;
  cx: number; // centre in pixels
  cy: number;
  halfLen: number; // half extent along the length axis, pixels
  halfWid: number; // half extent across
  angle: number; // radians, length axis from +x
  shape: ShapeFn;
  color: Rgb;
  detail?: Rgb;
  /** Darken the ground under an offset copy first (sun from the upper left). */
  shadow?: boolean;
  /** Strength of the body's linear shading across the object (0..0.5). */
  shading?: number;
}

export class Canvas {
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array; // (H, W, 3)
  readonly ids: Int16Array; // (H, W) topmost object id or -1
  private readonly noiseSeed: number;

  constructor(width: number, height: number, seed: number) {
    this.width = width;
    this.height = height;
    this.rgb = new Uint8Array(width * height * 3);
    this.ids = new Int16Array(width * height).fill(-1);
    this.noiseSeed = seed;
  }

  /** Per-pixel hash noise in [-1, 1): fine grain that makes surfaces look like imagery, not flat paint. */
  grain(x: number, y: number, salt = 0): number {
    return (mixSeed(this.noiseSeed, x, y, salt) / 2147483648) - 1;
  }

  /** Fills the whole canvas with multi-octave value noise between two colours. */
  ground(a: Rgb, b: Rgb, rng: SeededRandom): void {
    const field = valueNoise(this.width, this.height, rng, [0.5, 0.3, 0.2], [4, 12, 40]);
    for (let i = 0, p = 0; i < field.length; i++, p += 3) {
      const t = field[i]!;
      const g = this.grain(i % this.width, (i / this.width) | 0) * 10;
      for (let c = 0; c < 3; c++) this.rgb[p + c] = clamp255(a[c]! + (b[c]! - a[c]!) * t + g);
    }
  }

  /**
   * Fills an axis-aligned rectangle [x0,x1)×[y0,y1) with a textured colour; `id` >= 0 also claims
   * the pixels in the id map (area classes such as roads and lots).
   */
  fillRect(x0: number, y0: number, x1: number, y1: number, color: Rgb, id = -1, texture = 12): void {
    const xa = Math.max(0, Math.round(x0)), xb = Math.min(this.width, Math.round(x1));
    const ya = Math.max(0, Math.round(y0)), yb = Math.min(this.height, Math.round(y1));
    for (let y = ya; y < yb; y++) {
      for (let x = xa; x < xb; x++) {
        const i = y * this.width + x;
        const g = this.grain(x, y, 7) * texture;
        for (let c = 0; c < 3; c++) this.rgb[i * 3 + c] = clamp255(color[c]! + g);
        if (id >= 0) this.ids[i] = id;
      }
    }
  }

  draw(d: Drawable): void {
    const cos = Math.cos(d.angle), sin = Math.sin(d.angle);
    const r = Math.hypot(d.halfLen, d.halfWid) + 1;
    const shade = d.shading ?? 0.2;
    const pass = (ox: number, oy: number, shadow: boolean): void => {
      const x0 = Math.max(0, Math.floor(d.cx + ox - r)), x1 = Math.min(this.width - 1, Math.ceil(d.cx + ox + r));
      const y0 = Math.max(0, Math.floor(d.cy + oy - r)), y1 = Math.min(this.height - 1, Math.ceil(d.cy + oy + r));
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          // Pixel centre into the shape frame.
          const dx = x + 0.5 - (d.cx + ox), dy = y + 0.5 - (d.cy + oy);
          const u = (dx * cos + dy * sin) / d.halfLen;
          const v = (-dx * sin + dy * cos) / d.halfWid;
          if (u < -1 || u > 1 || v < -1 || v > 1) continue;
          const part = d.shape(u, v);
          if (part === 0) continue;
          const i = y * this.width + x;
          if (shadow) {
            for (let c = 0; c < 3; c++) this.rgb[i * 3 + c] = (this.rgb[i * 3 + c]! * 0.55) | 0;
            continue;
          }
          const base = part === 2 && d.detail ? d.detail : d.color;
          // Light from the upper left: brighter towards -u/-v, plus grain.
          const k = 1 + shade * (-0.5 * u - 0.5 * v) * 0.5;
          const g = this.grain(x, y, 3) * 8;
          for (let c = 0; c < 3; c++) this.rgb[i * 3 + c] = clamp255(base[c]! * k + g);
          if (d.id >= 0) this.ids[i] = d.id;
        }
      }
    };
    if (d.shadow) {
      const off = Math.max(1, Math.round(Math.min(d.halfLen, d.halfWid) * 0.35));
      pass(off, off, true);
    }
    pass(0, 0, false);
  }

  image(): RgbImage {
    return { width: this.width, height: this.height, data: this.rgb };
  }

  /** Binary mask of the pixels whose topmost id is in `ids`. */
  maskOf(ids: Iterable<number>): BinaryMask {
    const want = new Set(ids);
    const data = new Uint8Array(this.width * this.height);
    for (let i = 0; i < data.length; i++) if (want.has(this.ids[i]!)) data[i] = 1;
    return { width: this.width, height: this.height, data };
  }

  /** Visible pixel count per id (objects can be partly covered by later ones). */
  visibleCounts(): Map<number, number> {
    const m = new Map<number, number>();
    for (const id of this.ids) if (id >= 0) m.set(id, (m.get(id) ?? 0) + 1);
    return m;
  }
}

export function clamp255(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Sum of bilinearly interpolated random lattices, normalised to [0, 1]. */
export function valueNoise(w: number, h: number, rng: SeededRandom, weights: number[], cells: number[]): Float32Array {
  const out = new Float32Array(w * h);
  weights.forEach((wt, o) => {
    const n = cells[o]!;
    const lat = new Float32Array((n + 1) * (n + 1)).map(() => rng.next());
    for (let y = 0; y < h; y++) {
      const fy = (y / h) * n, iy = Math.floor(fy), ty = fy - iy;
      for (let x = 0; x < w; x++) {
        const fx = (x / w) * n, ix = Math.floor(fx), tx = fx - ix;
        const a = lat[iy * (n + 1) + ix]!, b = lat[iy * (n + 1) + ix + 1]!;
        const c = lat[(iy + 1) * (n + 1) + ix]!, d = lat[(iy + 1) * (n + 1) + ix + 1]!;
        out[y * w + x] += wt * ((a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty);
      }
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shapes (local frame u along the length, v across, both in [-1, 1]).

export const shapes = {
  rect: ((u, v) => (Math.abs(u) <= 1 && Math.abs(v) <= 1 ? 1 : 0)) as ShapeFn,
  ellipse: ((u, v) => (u * u + v * v <= 1 ? 1 : 0)) as ShapeFn,
  /** A car/van/truck seen from above: body with a darker windshield band near the front. */
  vehicle: ((u, v) => {
    if (Math.abs(u) > 1 || Math.abs(v) > 0.95) return 0;
    return u > 0.35 && u < 0.6 && Math.abs(v) < 0.8 ? 2 : 1;
  }) as ShapeFn,
  /** Storage tank / chimney top: disc with a darker rim. */
  tank: ((u, v) => {
    const r = u * u + v * v;
    return r > 1 ? 0 : r > 0.72 ? 2 : 1;
  }) as ShapeFn,
  /** Ship: long hull, pointed bow, a superstructure block. */
  ship: ((u, v) => {
    const halfW = u > 0.55 ? (1 - u) / 0.45 : 1;
    if (Math.abs(v) > halfW) return 0;
    return u > -0.7 && u < -0.3 && Math.abs(v) < 0.6 ? 2 : 1;
  }) as ShapeFn,
  /** Airplane: fuselage, swept wings, tail plane. */
  airplane: ((u, v) => {
    const av = Math.abs(v);
    if (Math.abs(u) <= 1 && av <= 0.14) return 1; // fuselage
    if (u > -0.15 && u < 0.25 && av <= 1 && u > -0.15 + av * 0.3 - 0.3) return 1; // wings
    if (u > -0.95 && u < -0.75 && av <= 0.4) return 1; // tail
    return 0;
  }) as ShapeFn,
  /** Tennis/basketball court: coloured rectangle with white lines. */
  court: ((u, v) => {
    const au = Math.abs(u), av = Math.abs(v);
    if (au > 1 || av > 1) return 0;
    if (au > 0.9 || av > 0.86 || au < 0.04 || (av > 0.6 && av < 0.68)) return 2;
    return 1;
  }) as ShapeFn,
  /** Ground track field: red oval ring around a green pitch. */
  track: ((u, v) => {
    const r = u * u + v * v;
    if (r > 1) return 0;
    return r > 0.6 ? 1 : 2;
  }) as ShapeFn,
  /** Baseball field: a quarter-disc fan with a brown infield. */
  baseball: ((u, v) => {
    const x = (u + 1) / 2, y = (v + 1) / 2; // corner at (0, 0)
    const r = x * x + y * y;
    if (r > 1) return 0;
    return r < 0.2 ? 2 : 1;
  }) as ShapeFn,
  /** Windmill from above: hub plus three blades. */
  windmill: ((u, v) => {
    const r = Math.hypot(u, v);
    if (r < 0.22) return 2;
    if (r > 1) return 0;
    const a = Math.atan2(v, u);
    for (let k = 0; k < 3; k++) {
      let d = a - (k * 2 * Math.PI) / 3;
      d = Math.atan2(Math.sin(d), Math.cos(d));
      if (Math.abs(d * r) < 0.12) return 1;
    }
    return 0;
  }) as ShapeFn,
  /** Building roof: rectangle with a ridge line. */
  roof: ((u, v) => {
    if (Math.abs(u) > 1 || Math.abs(v) > 1) return 0;
    return Math.abs(v) < 0.06 ? 2 : 1;
  }) as ShapeFn,
  /** Tree crown: bumpy disc. */
  tree: ((u, v) => {
    const a = Math.atan2(v, u);
    return u * u + v * v <= (0.85 + 0.15 * Math.sin(5 * a)) ** 2 ? 1 : 0;
  }) as ShapeFn,
} satisfies Record<string, ShapeFn>;

// ---------------------------------------------------------------------------------------------
// Colours with names, for attributes the expressions can use.

export const COLORS: Record<string, Rgb> = {
  red: [196, 48, 40],
  white: [236, 236, 230],
  gray: [130, 132, 136],
  blue: [48, 80, 190],
  yellow: [222, 196, 52],
  orange: [228, 128, 36],
  black: [34, 34, 38],
  cyan: [52, 186, 196],
  green: [64, 146, 62],
};
export type ColorName = keyof typeof COLORS;
export const COLOR_NAMES = Object.keys(COLORS) as ColorName[];

export function jitterColor(c: Rgb, rng: SeededRandom, amount = 14): Rgb {
  return [clamp255(c[0] + (rng.next() - 0.5) * amount), clamp255(c[1] + (rng.next() - 0.5) * amount), clamp255(c[2] + (rng.next() - 0.5) * amount)];
}

/** Roads on the ground: grey or brown bands with dashed centre lines, drawn as paint (no ids). */
export function drawRoadBand(canvas: Canvas, horizontal: boolean, pos: number, width: number, color: Rgb, id = -1, marking?: { id: number }): void {
  const S = horizontal ? canvas.width : canvas.height;
  if (horizontal) canvas.fillRect(0, pos - width / 2, S, pos + width / 2, color, id, 10);
  else canvas.fillRect(pos - width / 2, 0, pos + width / 2, S, color, id, 10);
  if (marking) {
    const dash = Math.max(2, Math.round(width * 0.6)), line = Math.max(1, Math.round(width * 0.06));
    for (let t = dash / 2; t < S; t += dash * 2) {
      if (horizontal) canvas.fillRect(t, pos - line / 2, t + dash, pos + line / 2, [232, 232, 226], marking.id, 6);
      else canvas.fillRect(pos - line / 2, t, pos + line / 2, t + dash, [232, 232, 226], marking.id, 6);
    }
  }
}

export { SeededRandom };
