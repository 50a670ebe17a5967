// Tensors past the adapter's storage-binding limit (split.ts): with the limit lowered to a few KiB, element-wise
// ops (broadcast, non-contiguous), copies, matmul (batch and row pieces, K chunks), a Linear layer's forward and
// backward and reductions must give what they give in one dispatch, and a dispatch binding too much must throw.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../src/index.ts';
import { reduceKernel } from '../../src/kernels/reduce/reduce.op.ts';
import { testDevices } from './harness.ts';

const devices = await testDevices();
const s = suite('split for the binding limit');
const LIMIT = 4096; // bytes: 1024 f32 per binding

function rand(shape: number[], seed: number, requiresGrad = false): F.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return F.fromArray(new F.Generator(seed).uniform(n, -1, 1), shape, { device: 'webgpu', requiresGrad });
}

/** Runs fn with the normal limit and with LIMIT; both results (as arrays) must agree to float rounding. */
async function same(what: string, fn: () => F.Tensor[], minDispatchRatio = 1.5): Promise<void> {
  const rt = F.getRuntime();
  const d0 = rt.dispatches;
  const want = await Promise.all(fn().map((t) => t.toArray()));
  const whole = rt.dispatches - d0;
  rt.setBindingLimit(LIMIT);
  let got: Float32Array[];
  const d1 = rt.dispatches;
  try {
    got = (await Promise.all(fn().map((t) => t.toArray()))) as Float32Array[];
  } finally {
    rt.setBindingLimit(null);
  }
  const split = rt.dispatches - d1;
  // The split run must really have run in pieces (more dispatches), or the comparison proves nothing.
  assert.ok(split >= whole * minDispatchRatio, `${what}: ${split} dispatches split vs ${whole} whole`);
  want.forEach((w, k) => {
    assert.is(got[k]!.length, w.length, `${what}: output ${k} length`);
    for (let i = 0; i < w.length; i++) {
      const tol = 1e-5 * Math.max(1, Math.abs(w[i] as number));
      if (Math.abs((got[k]![i] as number) - (w[i] as number)) > tol) {
        assert.unreachable(`${what}: output ${k}[${i}] = ${got[k]![i]}, want ${w[i]}`);
      }
    }
  });
}

if (devices.includes('webgpu')) {
  s('element-wise: broadcast add, gelu of a transposed view, where', async () => {
    const a = rand([37, 53], 1);
    const b = rand([53], 2);
    const t = rand([29, 61], 3);
    const c = rand([37, 1], 4);
    await same('add', () => [F.add(a, b)]);
    await same('gelu(transpose)', () => [F.gelu(F.transpose(t, 0, 1))]);
    await same('where', () => [F.where(F.gt(a, c), a, c)]);
  });

  s('copies: contiguous of a permuted view, concat', async () => {
    const x = rand([3, 41, 29], 5);
    await same('contiguous(permute)', () => [F.contiguous(F.permute(x, [2, 0, 1]))]);
    await same('concat', () => [F.concat([x, x], 1)]);
  });

  s('matmul: batch pieces, row pieces, K chunks', async () => {
    const a = rand([5, 40, 30], 6);
    const w = rand([30, 20], 7); // 2400 bytes: fits whole, so only the output and a are split
    await same('batched @ shared', () => [F.matmul(a, w)]);
    const a2 = rand([200, 30], 8);
    await same('rows', () => [F.matmul(a2, w)]);
    // An output under the limit (bound whole, pieces at offsets that are not 16-byte aligned) beside a split input.
    await same('rows into a whole output', () => [F.matmul(a2, rand([30, 5], 16))]);
    const g = rand([300, 20], 9);
    const x = rand([300, 16], 10);
    // (20, 300) @ (300, 16): the output fits, both operands run K in chunks.
    await same('gᵀx (K chunks)', () => [F.matmul(F.transpose(g, 0, 1), x)]);
  });

  s('Linear forward and backward (weight gradient over many rows, bias gradient a reduction)', async () => {
    // Weights stay whole (they must fit one binding: true of every FIANet weight); activations are split.
    const lin = new F.Linear(12, 20, true, { generator: new F.Generator(11), device: 'webgpu' });
    const x = rand([7, 40, 12], 12, true);
    const gy = rand([7, 40, 20], 13);
    await same('linear', () => {
      for (const p of lin.parameters()) p.grad = null;
      x.grad = null;
      const y = F.gelu(lin.forward(x));
      y.backward(gy);
      return [y, x.grad!, lin.weight.grad!, lin.bias!.grad!];
    });
  });

  s('reductions: sum, mean and max over a long axis', async () => {
    const x = rand([600, 9], 14);
    await same('sum', () => [reduceKernel('sum', x, [0], false)]);
    await same('mean', () => [F.mean(x, 0)]);
    await same('max', () => [F.max(x, 0)]);
  });

  s('a kernel binding more than the limit throws naming the op', async () => {
    const rt = F.getRuntime();
    const x = rand([600, 9], 15);
    rt.setBindingLimit(LIMIT);
    try {
      assert.throws(() => F.argmax(x, 0), /argmax: \(600, 9\) over axes \[0\] cannot be split/);
    } finally {
      rt.setBindingLimit(null);
    }
  });
}

s.run();
