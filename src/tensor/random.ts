// A seeded counter-based RNG: value i of stream `key` is hash(key, i), so the CPU and WGSL kernels produce the
// same numbers for the same (key, index) and nothing depends on evaluation order. The Generator hands out
// keys; its state (seed, counter) is two integers, saved in checkpoints for exact resume.

/** lowbias32 (Wellons): a fast 32-bit integer hash with good avalanche. Same arithmetic as the WGSL below. */
export function hash32(x: number): number {
  x >>>= 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** Uniform in [0, 1) from (key, index): 24 random bits, exact in f32. */
export function uniformAt(key: number, index: number): number {
  return (hash32(hash32(index) ^ key) >>> 8) / 16777216;
}

export const WGSL_RANDOM = `
fn hash32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u; x *= 0x7feb352du; x ^= x >> 15u; x *= 0x846ca68bu; x ^= x >> 16u;
  return x;
}
fn uniformAt(key: u32, index: u32) -> f32 { return f32(hash32(hash32(index) ^ key) >> 8u) / 16777216.0; }`;

export interface GeneratorState {
  seed: number;
  counter: number;
}

export class Generator {
  private seed: number;
  private counter = 0;

  constructor(seed = 0) {
    this.seed = seed >>> 0;
  }

  manualSeed(seed: number): this {
    this.seed = seed >>> 0;
    this.counter = 0;
    return this;
  }

  /** A fresh stream key below 2^24, so it travels exactly through an f32 uniform. */
  nextKey(): number {
    return hash32(this.seed ^ hash32(this.counter++)) & 0xffffff;
  }

  uniform(n: number, lo = 0, hi = 1): Float64Array {
    const key = this.nextKey();
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * uniformAt(key, i);
    return out;
  }

  /** Standard normals by Box-Muller over two uniform streams. */
  normal(n: number, mean = 0, std = 1): Float64Array {
    const k1 = this.nextKey();
    const k2 = this.nextKey();
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u1 = uniformAt(k1, i) + 1 / 33554432; // never 0
      const u2 = uniformAt(k2, i);
      out[i] = mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
    return out;
  }

  /** Normal truncated to [a, b] (timm's trunc_normal_ semantics, bounds absolute) by resampling. */
  truncNormal(n: number, std: number, a = -2, b = 2): Float64Array {
    const out = new Float64Array(n);
    let filled = 0;
    while (filled < n) {
      for (const v of this.normal(n - filled, 0, std)) {
        if (v >= a && v <= b && filled < n) out[filled++] = v;
      }
    }
    return out;
  }

  getState(): GeneratorState {
    return { seed: this.seed, counter: this.counter };
  }

  setState(s: GeneratorState): void {
    this.seed = s.seed >>> 0;
    this.counter = s.counter;
  }
}

/** The default generator (torch.manual_seed analogue). */
export const defaultGenerator = new Generator(0);

export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}
