// The three layers of truth for every op case: (a) WGSL kernel vs CPU reference, forward and backward, on the
// same random inputs; (b) the CPU reference's gradients vs float64 central differences.
import * as assert from 'uvu/assert';
import * as F from '../../src/index.ts';
import type { DType, Tensor } from '../../src/index.ts';

export interface InputSpec {
  shape: number[];
  dtype?: DType;
  domain?: 'any' | 'positive' | 'nonzero' | 'unit';
  /** Integer inputs: values in [0, ints). */
  ints?: number;
  /** Build the tensor as the transpose of its last two dims' contiguous data (a non-contiguous view). */
  transposed?: boolean;
  grad?: boolean;
}

export interface OpCase {
  op: string;
  label: string;
  inputs: InputSpec[];
  run: (xs: Tensor[]) => Tensor;
  /** Compare gradients too (default: whenever some input has grad). */
  backward?: boolean;
  gradcheck?: boolean;
  tol?: number;
}

/** Deterministic uniform(0,1) stream (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sample(spec: InputSpec, r: () => number): Float64Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    if (spec.ints) out[i] = Math.floor(u * spec.ints);
    else if (spec.domain === 'positive') out[i] = 0.2 + 2 * u;
    else if (spec.domain === 'unit') out[i] = u;
    else if (spec.domain === 'nonzero') out[i] = (u < 0.5 ? -1 : 1) * (0.1 + 2.4 * Math.abs(2 * u - 1));
    else out[i] = 5 * u - 2.5;
  }
  return out;
}

async function makeInput(spec: InputSpec, data: Float64Array, device: F.DeviceName, f64: boolean): Promise<Tensor> {
  const dtype = spec.dtype ?? (spec.ints ? 'i32' : f64 ? 'f64' : 'f32');
  const requiresGrad = (spec.grad ?? !spec.ints) && (dtype === 'f32' || dtype === 'f64');
  if (!spec.transposed || spec.shape.length < 2) return F.fromArray(data, spec.shape, { device, dtype, requiresGrad });
  // Lay the data out as the transpose, then view it back: same logical values, non-contiguous strides.
  const s = spec.shape;
  const tShape = [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
  const packed = await F.transpose(F.fromArray(data, s, { device: 'cpu', dtype }), -1, -2).toArray();
  const t = F.transpose(F.fromArray(packed, tShape, { device, dtype }), -1, -2);
  t.requiresGrad = requiresGrad;
  return t;
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!) / (tol + tol * Math.abs(b[i]!));
    if (!(err <= worst)) { worst = err; at = i; }
    if (Number.isNaN(a[i]!) !== Number.isNaN(b[i]!)) { worst = Infinity; at = i; }
  }
  if (worst > 1) assert.unreachable(`${what}: element ${at}: ${a[at]} vs ${b[at]} (tol ${tol})`);
}

async function runOn(c: OpCase, datas: Float64Array[], device: F.DeviceName, f64: boolean, upstream: Float64Array | null) {
  const xs = await Promise.all(c.inputs.map((s, i) => makeInput(s, datas[i]!, device, f64)));
  const out = c.run(xs);
  const y = await out.toArray();
  const grads: (ArrayLike<number> | null)[] = [];
  if (upstream && out.requiresGrad) {
    out.backward(F.fromArray(upstream, out.shape, { device, dtype: out.dtype }));
    for (const x of xs) grads.push(x.grad ? await x.grad.toArray() : null);
  }
  for (const x of xs) { x.grad?.dispose(); x.dispose(); }
  out.dispose();
  return { y, grads, shape: out.shape, dtype: out.dtype };
}

/** Runs one case on cpu and webgpu and compares; then gradchecks the cpu reference in float64. */
export async function checkCase(c: OpCase, seed: number, devices: F.DeviceName[]): Promise<void> {
  const r = rng(seed);
  const datas = c.inputs.map((s) => sample(s, r));
  const tol = c.tol ?? 2e-4;
  const probe = await runOn(c, datas, 'cpu', false, null);
  const upstream = c.backward === false ? null : sample({ shape: [...probe.shape] }, r);
  const ref = await runOn(c, datas, 'cpu', false, upstream);
  for (const d of devices.filter((x) => x !== 'cpu')) {
    const got = await runOn(c, datas, d, false, upstream);
    close(got.y, ref.y, tol, `${c.op} ${c.label}: ${d} forward`);
    ref.grads.forEach((g, i) => {
      if (g) {
        assert.ok(got.grads[i], `${c.op} ${c.label}: ${d} gives no gradient for input ${i}`);
        close(got.grads[i]!, g, tol, `${c.op} ${c.label}: ${d} grad of input ${i}`);
      }
    });
  }
  if (c.gradcheck !== false && upstream && ref.grads.some(Boolean)) await gradcheck(c, datas, upstream);
}

/** d(sum(out * upstream))/dx by central differences in float64 vs the analytic cpu gradient. */
async function gradcheck(c: OpCase, datas: Float64Array[], upstream: Float64Array): Promise<void> {
  const analytic = await runOn(c, datas, 'cpu', true, upstream);
  const eps = 1e-6;
  const objective = async (ds: Float64Array[]) => {
    const { y } = await runOn(c, ds, 'cpu', true, null);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * upstream[i]!;
    return s;
  };
  for (let k = 0; k < c.inputs.length; k++) {
    const g = analytic.grads[k];
    if (!g) continue;
    const n = datas[k]!.length;
    const picks = n <= 12 ? [...Array(n).keys()] : Array.from({ length: 12 }, (_, j) => Math.floor((j * n) / 12 + (n / 24)));
    for (const i of picks) {
      const plus = datas.map((d) => d.slice());
      const minus = datas.map((d) => d.slice());
      plus[k]![i]! += eps;
      minus[k]![i]! -= eps;
      const num = ((await objective(plus)) - (await objective(minus))) / (2 * eps);
      const err = Math.abs(num - g[i]!) / (1e-6 + 1e-5 * Math.abs(num));
      if (err > 1) assert.unreachable(`${c.op} ${c.label}: gradcheck input ${k}[${i}]: analytic ${g[i]} vs numeric ${num}`);
    }
  }
}

/** ['cpu'], plus 'webgpu' when an adapter exists (the kernel suites then compare the two). */
export async function testDevices(): Promise<F.DeviceName[]> {
  try {
    await F.initWebGPU();
    return ['cpu', 'webgpu'];
  } catch (e) {
    console.warn(`no webgpu adapter: kernel tests run on cpu only (${(e as Error).message.split('\n')[0]})`);
    return ['cpu'];
  }
}
