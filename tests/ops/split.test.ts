// Tensors past the adapter's storage-binding limit (split.ts): with the limit lowered to a few KiB, element-wise
// ops (broadcast, non-contiguous), copies, matmul (batch and row pieces, K chunks), a Linear layer's forward and
// backward, conv2d's three GEMMs, softmax and reductions must give what they give in one dispatch, and a dispatch binding too much must throw.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../src/index.ts';
import { reduceKernel } from '../../src/kernels/reduce/reduce.op.ts';
import { conv2d } from '../../src/kernels/conv/conv.op.ts';
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

  s('random streams: dropout and drop-path draw the same masks in pieces as whole', async () => {
    const x = rand([6, 50, 11], 36);
    const r = rand([6, 50, 11], 37);
    await same('dropout', () => [F.dropout(x, 0.4, true, new F.Generator(7))]);
    await same('dropout of a transposed view', () => [F.dropout(F.transpose(x, 1, 2), 0.4, true, new F.Generator(8))]);
    await same('dropPath + residual', () => [F.dropPathAdd(r, x, 0.5, true, new F.Generator(9)), F.dropPath(x, 0.5, true, new F.Generator(10))]);
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

  s('conv2d forward, input and weight gradients over batch pieces (3x3 stride 1 and 2, 1x1 with bias)', async () => {
    const x = rand([6, 4, 12, 12], 17, true); // 13.8 KB; one image 2.3 KB
    const w = rand([4, 4, 3, 3], 18, true);
    const w1 = rand([4, 4, 1, 1], 19, true);
    const b1 = rand([4], 20, true);
    for (const [label, f] of [
      ['3x3', () => conv2d(x, w, null, { padding: 1 })],
      ['3x3 stride 2', () => conv2d(x, w, null, { padding: 1, stride: 2 })],
      ['1x1 + bias', () => conv2d(x, w1, b1, {})],
    ] as const) {
      await same(`conv ${label}`, () => {
        for (const t of [x, w, w1, b1]) t.grad = null;
        const y = f();
        y.backward(F.mul(y, 0.5));
        return [y, x.grad!, ...(label === '1x1 + bias' ? [w1.grad!, b1.grad!] : [w.grad!])];
      });
    }
  });

  s('attention (bias, periodic mask; split heads and packed qkv) forward and backward over batch pieces', async () => {
    // 12 windows of 6 images (mask period 2), 2 heads, 9 tokens, head dim 8: q/k/v views of a 20.7 KB qkv.
    const [B, H, N, Dh] = [12, 2, 9, 8];
    const qkv = rand([B, N, 3 * H * Dh], 21, true);
    const bias = rand([H, N, N], 22, true);
    const mask = F.mul(F.cast(F.gt(rand([2, 1, N, N], 23), F.fromArray([0.6], [1], { device: 'webgpu' })), 'f32'), -100);
    const gy = rand([B, H, N, Dh], 24);
    const split = () => {
      const t = F.permute(F.reshape(qkv, [B, N, 3, H, Dh]), [2, 0, 3, 1, 4]);
      return [0, 1, 2].map((i) => F.reshape(F.slice(t, 0, i, i + 1), [B, H, N, Dh])) as [F.Tensor, F.Tensor, F.Tensor];
    };
    for (const [label, f] of [
      ['split heads', () => F.attention(...split(), { bias, mask })],
      ['packed', () => F.attentionPacked(qkv, H, { bias, mask })],
    ] as const) {
      await same(`attention ${label}`, () => {
        qkv.grad = null;
        bias.grad = null;
        const y = f();
        y.backward(gy);
        return [y, qkv.grad!, bias.grad!];
      });
    }
  });

  s('resampling over plane pieces: bilinear both alignments up and down, nearest, adaptive average pooling', async () => {
    const x = rand([3, 5, 7, 9], 25, true); // 3.8 KB in, larger out; planes of 7x9 start at unaligned offsets
    const gy = (y: F.Tensor) => F.mul(y, 0.25);
    for (const [label, f] of [
      ['bilinear up, align', () => F.interpolate(x, { size: [14, 20], mode: 'bilinear', alignCorners: true })],
      ['bilinear up', () => F.interpolate(x, { size: [15, 17], mode: 'bilinear', alignCorners: false })],
      ['bilinear down', () => F.interpolate(F.interpolate(x, { size: [24, 30], mode: 'nearest' }), { size: [11, 13], mode: 'bilinear', alignCorners: false })],
      ['adaptive pool', () => F.adaptiveAvgPool2d(F.interpolate(x, { size: [21, 27], mode: 'nearest' }), [7, 9])],
    ] as const) {
      await same(`resample ${label}`, () => {
        x.grad = null;
        const y = f();
        y.backward(gy(y));
        return [y, x.grad!];
      });
    }
  });

  s('softmax and log-softmax rows past the limit: masks broadcast and per row, forward and backward', async () => {
    for (const n of [36, 37]) { // vec4 rows and odd rows
      const x = rand([3, 5, 7, n], 40 + n, true); // 15 KB: pieces down to single rows of dim 2
      const perRow = rand([3, 1, 7, n], 41, true); // narrowed with dims 0 and 2, whole along dim 1; takes a gradient
      const keys = F.fromArray(new Float32Array(n).map((_, j) => (j % 5 === 0 ? -1e4 : 0)), [n], { device: 'webgpu' });
      const gy = rand([3, 5, 7, n], 42);
      for (const [label, f] of [
        ['softmax', () => F.softmax(x)],
        ['softmax + key mask', () => F.softmax(x, keys)],
        ['logSoftmax + learned mask', () => F.logSoftmax(x, perRow)],
      ] as const) {
        await same(`${label} (n ${n})`, () => {
          x.grad = null;
          perRow.grad = null;
          const y = f();
          y.backward(gy);
          return [y, x.grad!, ...(perRow.grad ? [perRow.grad] : [])];
        });
      }
    }
  });

  s('normalization past the limit: BatchNorm2d train (running update) and eval, LayerNorm, InstanceNorm', async () => {
    const x = rand([4, 6, 9, 7], 26, true); // 6 KB
    const w = rand([6], 27, true);
    const b = rand([6], 28, true);
    const gy = rand([4, 6, 9, 7], 29);
    await same('batchNorm2d train', () => {
      for (const t of [x, w, b]) t.grad = null;
      const rm = F.fromArray(new Float32Array(6).fill(0.5), [6], { device: 'webgpu' });
      const rv = F.fromArray(new Float32Array(6).fill(2), [6], { device: 'webgpu' });
      const nbt = F.fromArray(new Int32Array([3]), [1], { device: 'webgpu' });
      const y = F.batchNorm2d(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, numBatchesTracked: nbt, training: true });
      y.backward(gy);
      return [y, x.grad!, w.grad!, b.grad!, rm, rv, F.cast(nbt, 'f32')];
    });
    await same('batchNorm2d eval', () => {
      x.grad = null;
      const rm = rand([6], 30);
      const rv = F.add(F.square(rand([6], 31)), 0.5);
      const y = F.batchNorm2d(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: false });
      y.backward(gy);
      return [y, x.grad!];
    });
    const t = rand([5, 40, 12], 32, true); // 9.6 KB
    const lw = rand([12], 33, true);
    const lb = rand([12], 34, true);
    const gt = rand([5, 40, 12], 35);
    await same('layerNorm', () => {
      for (const u of [t, lw, lb]) u.grad = null;
      const y = F.layerNorm(t, lw, lb, 1e-5);
      y.backward(gt);
      return [y, t.grad!, lw.grad!, lb.grad!];
    });
    await same('instanceNormTokens', () => {
      t.grad = null;
      const y = F.instanceNormTokens(t);
      y.backward(gt);
      return [y, t.grad!];
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
      assert.throws(() => F.argmax(x, 0), /argmax: \(600, \d+\) over axes \[0\] cannot be split/);
    } finally {
      rt.setBindingLimit(null);
    }
  });
}

s.run();
