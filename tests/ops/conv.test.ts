// Convolution: WGSL implicit GEMM vs the direct-loop CPU reference (forward, input and weight gradients, bias),
// float64 gradcheck of the reference, every GEMM variant, and PyTorch golden values.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import * as F from '../../src/index.ts';
import { conv2d } from '../../src/kernels/conv/conv.op.ts';
import { setMatmulVariant } from '../../src/kernels/matmul/matmul.op.ts';
import { CASES_CONV } from './cases-conv.ts';
import { checkCase, testDevices } from './harness.ts';

const devices = await testDevices();

const s = suite('conv');
CASES_CONV.forEach((c, i) => s(`${c.op}: ${c.label}`, async () => checkCase(c, 500 + i, devices)));
if (devices.includes('webgpu')) {
  for (const v of ['naive', 'tiled'] as const) {
    CASES_CONV.forEach((c, i) => s(`${c.op} (${v} GEMM): ${c.label}`, async () => {
      setMatmulVariant(v);
      try { await checkCase({ ...c, gradcheck: false }, 700 + i, devices); } finally { setMatmulVariant(null); }
    }));
  }
}

const golden = new URL('../fixtures/golden/conv.json', import.meta.url);
s('golden: PyTorch conv2d forward and gradients', async () => {
  assert.ok(existsSync(golden), 'tests/fixtures/golden/conv.json is missing (run make_conv.py)');
  const cases = JSON.parse(readFileSync(golden, 'utf8')) as {
    name: string; x: number[]; xShape: number[]; w: number[]; wShape: number[]; b: number[] | null;
    stride: [number, number]; padding: [number, number]; dilation: [number, number]; groups: number;
    y: number[]; gy: number[]; gx: number[]; gw: number[]; gb: number[] | null;
  }[];
  for (const c of cases) {
    for (const device of devices) {
      const x = F.fromArray(c.x, c.xShape, { device, requiresGrad: true });
      const w = F.fromArray(c.w, c.wShape, { device, requiresGrad: true });
      const b = c.b ? F.fromArray(c.b, [c.b.length], { device, requiresGrad: true }) : null;
      const y = conv2d(x, w, b, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
      y.backward(F.fromArray(c.gy, y.shape, { device }));
      const near = (got: ArrayLike<number>, want: number[], what: string) => {
        want.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) <= 1e-4 + 1e-4 * Math.abs(v), `${c.name} ${device} ${what}[${i}]: ${got[i]} vs ${v}`));
      };
      near(await y.toArray(), c.y, 'y');
      near(await x.grad!.toArray(), c.gx, 'dx');
      near(await w.grad!.toArray(), c.gw, 'dw');
      if (b && c.gb) near(await b.grad!.toArray(), c.gb, 'db');
    }
  }
});

s('bad input names the layer and the shapes', () => {
  const x = F.fromArray(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4], { device: 'cpu' });
  assert.throws(() => conv2d(x, F.fromArray(new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3], { device: 'cpu' })), /conv2d: weight \(4, 2, 3, 3\) expects 2 input channels/);
  assert.throws(() => conv2d(x, F.fromArray(new Float32Array(4 * 3 * 7 * 7), [4, 3, 7, 7], { device: 'cpu' })), /kernel 7x7 .* larger than the padded input 4x4/);
  assert.throws(() => conv2d(F.reshape(x, [6, 16]), x), /expected input \(B, C, H, W\)/);
  assert.throws(() => conv2d(x, F.fromArray(new Float32Array(4 * 3), [4, 3, 1, 1], { device: 'cpu' }), null, { groups: 2 }), /groups 2 must divide/);
});

s.run();
