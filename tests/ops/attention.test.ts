// The attention family: (a) every case in cases-attention.ts, WGSL vs the CPU reference forward and backward
// plus a float64 gradcheck; (b) the fused path against the composed one (matmul, softmax, matmul), including
// the chunked backward; (c) PyTorch golden values for attention with bias and masks and for a Swin block's
// shifted window attention (tests/fixtures/golden/make_attention.py).
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../src/index.ts';
import { attention, attentionPacked, chooseAttentionPath, setAttentionChunkBytes, setAttentionPath } from '../../src/kernels/attention/attention.op.ts';
import { cropFromWindow, padToWindow, relativePositionIndex, shiftMask, shiftMaskTensor, windowPartition, windowReverse } from '../../src/kernels/attention/swin.ts';
import { MultiheadAttention, WindowAttention } from '../../src/nn/attention.ts';
import { CASES_ATTENTION } from './cases-attention.ts';
import { checkCase, rng, sample, testDevices } from './harness.ts';

const devices = await testDevices();

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)))) assert.unreachable(`${what}: element ${i}: ${a[i]} vs ${b[i]} (tol ${tol})`);
  }
}

const s = suite('attention');
let seed = 500;
for (const c of CASES_ATTENTION) {
  const caseSeed = seed++;
  s(`${c.op}: ${c.label}`, async () => { await checkCase(c, caseSeed, devices); });
}

// ---- fused vs composed -----------------------------------------------------------------------------------
interface PathCase { label: string; q: number[]; k: number[]; v: number[]; bias?: number[]; mask?: number[]; chunkBytes?: number }
const PATH_CASES: PathCase[] = [
  { label: 'windows with bias and periodic mask', q: [6, 3, 16, 8], k: [6, 3, 16, 8], v: [6, 3, 16, 8], bias: [3, 16, 16], mask: [3, 1, 16, 16] },
  { label: 'key padding, Dv 5', q: [2, 4, 3, 12], k: [2, 4, 11, 12], v: [2, 4, 11, 5], mask: [2, 1, 1, 11] },
  { label: 'chunked backward (one image per chunk)', q: [4, 2, 9, 4], k: [4, 2, 9, 4], v: [4, 2, 9, 4], bias: [2, 9, 9], chunkBytes: 2 * 9 * 9 * 4 },
  { label: 'chunked backward with periodic bias', q: [4, 2, 5, 4], k: [4, 2, 7, 4], v: [4, 2, 7, 4], bias: [2, 2, 5, 7], chunkBytes: 1 },
];

async function runPath(c: PathCase, device: F.DeviceName, path: 'fused' | 'composed') {
  const r = rng(77);
  const mk = (shape: number[], grad: boolean, f = (x: number) => x) =>
    F.fromArray(sample({ shape }, r).map(f), shape, { device, requiresGrad: grad });
  return F.scope(() => {
    const q = mk(c.q, true), k = mk(c.k, true), v = mk(c.v, true);
    const bias = c.bias ? mk(c.bias, true) : null;
    const mask = c.mask ? mk(c.mask, false, (x) => (x < 0 ? -100 : 0)) : null;
    setAttentionPath(path);
    setAttentionChunkBytes(c.chunkBytes ?? null);
    try {
      const out = attention(q, k, v, { bias, mask });
      const g = mk(out.shape as number[], false);
      out.backward(g);
      return [out, q.grad!, k.grad!, v.grad!, ...(bias ? [bias.grad!] : [])].map((t) => F.keep(t));
    } finally {
      setAttentionPath(null);
      setAttentionChunkBytes(null);
    }
  });
}

for (const c of PATH_CASES) {
  s(`fused == composed: ${c.label}`, async () => {
    for (const d of devices) {
      const a = await runPath(c, d, 'fused');
      const b = await runPath(c, d, 'composed');
      for (let i = 0; i < a.length; i++) close(await a[i]!.toArray(), await b[i]!.toArray(), 2e-4, `${d} output ${i}`);
      for (const t of [...a, ...b]) t.dispose();
    }
  });
}

s('attentionPacked: fused == composed fallback (forward, dqkv, dbias)', async () => {
  for (const d of devices) {
    const res: Float32Array[][] = [];
    for (const path of ['fused', 'composed'] as const) {
      const r = rng(31);
      const qkv = F.fromArray(sample({ shape: [3, 9, 24] }, r), [3, 9, 24], { device: d, requiresGrad: true });
      const bias = F.fromArray(sample({ shape: [2, 9, 9] }, r), [2, 9, 9], { device: d, requiresGrad: true });
      const mask = F.fromArray(sample({ shape: [3, 1, 9, 9] }, r).map((x) => (x < 0 ? -100 : 0)), [3, 1, 9, 9], { device: d });
      setAttentionPath(path);
      try {
        const out = F.scope(() => {
          const o = attentionPacked(qkv, 2, { bias, mask, scale: 0.4 });
          o.backward(F.fromArray(sample({ shape: [3, 2, 9, 4] }, r), [3, 2, 9, 4], { device: d }));
          return F.keep(o);
        });
        res.push([await out.toArray(), await qkv.grad!.toArray(), await bias.grad!.toArray()] as Float32Array[]);
        for (const t of [out, qkv.grad!, bias.grad!, qkv, bias, mask]) t.dispose();
      } finally {
        setAttentionPath(null);
      }
    }
    res[0]!.forEach((a, i) => close(a, res[1]![i]!, 2e-4, `${d} packed output ${i}`));
  }
});

// ---- golden values from PyTorch ----------------------------------------------------------------------------
const golden = JSON.parse(readFileSync(new URL('../fixtures/golden/attention.json', import.meta.url), 'utf8'));

for (const name of ['sdpa_key_padding', 'sdpa_window_mask']) {
  const G = golden[name];
  for (const d of devices) {
    s(`golden ${name} on ${d}`, async () => {
      const res = F.scope(() => {
        const t = (data: number[], shape: number[], grad = true) => F.fromArray(data, shape, { device: d, requiresGrad: grad });
        const q = t(G.q, G.qShape), k = t(G.k, G.kShape), v = t(G.v, G.vShape), bias = t(G.bias, G.biasShape);
        const out = attention(q, k, v, { scale: G.scale, bias, mask: t(G.mask, G.maskShape, false) });
        out.backward(t(G.g, out.shape as number[], false));
        return [out, q.grad!, k.grad!, v.grad!, bias.grad!].map((x) => F.keep(x));
      });
      const want = [G.out, G.dq, G.dk, G.dv, G.dbias];
      for (let i = 0; i < res.length; i++) close(await res[i]!.toArray(), want[i], 2e-4, `${name} ${['out', 'dq', 'dk', 'dv', 'dbias'][i]}`);
      for (const x of res) x.dispose();
    });
  }
}

for (const name of ['swin_shifted', 'swin_plain']) {
  const G = golden[name];
  for (const d of devices) {
    s(`golden ${name}: Swin block attention path on ${d}`, async () => {
      const { B, H, W, C, heads, ws, shift } = G;
      const attn = new WindowAttention(C, ws, heads, { device: d });
      const sd = new Map<string, F.HostTensor>(Object.entries(G.params as Record<string, number[]>).map(([k, v]) => {
        const shape = [...attn.stateDict().get(k)!.shape];
        return [k, { shape, data: Float32Array.from(v) }];
      }));
      sd.set('relative_position_index', { shape: [ws * ws, ws * ws], data: relativePositionIndex(ws) });
      attn.loadStateDict(sd);
      const res = F.scope(() => {
        const x = F.fromArray(G.x, [B, H * W, C], { device: d, requiresGrad: true });
        let t = padToWindow(F.reshape(x, [B, H, W, C]), ws);
        const [Hp, Wp] = [t.shape[1]!, t.shape[2]!];
        if (shift) t = F.roll(t, [-shift, -shift], [1, 2]);
        const mask = shift ? shiftMaskTensor(Hp, Wp, ws, shift, d) : null;
        t = windowReverse(attn.forward(windowPartition(t, ws), mask), ws, Hp, Wp);
        if (shift) t = F.roll(t, [shift, shift], [1, 2]);
        const out = F.reshape(cropFromWindow(t, H, W), [B, H * W, C]);
        out.backward(F.fromArray(G.g, out.shape, { device: d }));
        return [out, x.grad!].map((y) => F.keep(y));
      });
      close(await res[0]!.toArray(), G.out, 2e-4, `${name} out`);
      close(await res[1]!.toArray(), G.dx, 2e-4, `${name} dx`);
      for (const [k, p] of attn.namedParameters()) close(await p.grad!.toArray(), G.dparams[k], 2e-4, `${name} d${k}`);
      if (shift) close(shiftMask(padded(H, ws), padded(W, ws), ws, shift), G.shiftMask, 0, `${name} shift mask`);
      for (const y of res) y.dispose();
      attn.dispose();
    });
  }
}
const padded = (n: number, ws: number) => Math.ceil(n / ws) * ws;

s('relative_position_index matches the official construction at ws 12', () => {
  const idx = relativePositionIndex(12);
  assert.is(idx.length, 144 * 144);
  assert.is(idx[0], 11 * 23 + 11);
  assert.is(idx[143], (0 - 11 + 11) * 23 + (0 - 11 + 11)); // a = (0,0), b = (11,11)
  assert.is(Math.max(...idx), 528);
});

s('MultiheadAttention: names, shapes, key padding equals dropping the padded keys', async () => {
  const mha = new MultiheadAttention(8, 2, { device: 'cpu', generator: new F.Generator(3) });
  assert.equal([...mha.stateDict().keys()], ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']);
  const r = rng(5);
  const x = F.fromArray(sample({ shape: [1, 3, 8] }, r), [1, 3, 8], { device: 'cpu' });
  const mem = F.fromArray(sample({ shape: [1, 5, 8] }, r), [1, 5, 8], { device: 'cpu' });
  const pad = F.fromArray([0, 0, 0, 1, 1], [1, 5], { device: 'cpu' });
  const full = await mha.forward(x, mem, mem, { keyPaddingMask: pad }).toArray();
  const kept = F.slice(mem, 1, 0, 3);
  const short = await mha.forward(x, kept, kept).toArray();
  close(full, short, 1e-5, 'padded vs truncated');
  mha.dispose();
});

s('path choice: too many keys, training with few keys for a large head dim, or training on a hardware GPU, go composed', () => {
  assert.is(chooseAttentionPath('cpu', 144, 32, 'f32', true), 'fused');
  assert.is(chooseAttentionPath('cpu', 300, 32, 'f32', false), 'composed');
  assert.is(chooseAttentionPath('cpu', 22, 128, 'f32', false), 'fused');
  assert.is(chooseAttentionPath('cpu', 22, 128, 'f32', true), 'composed');
  // Adapter facts: lavapipe trains fused; a hardware GPU (H200: fused backward 6.7x slower) trains composed
  // and keeps the fused forward for inference; no subgroups, no fused kernels.
  const lavapipe = { subgroupSize: 8, isFallbackAdapter: true };
  const gpu = { subgroupSize: 32, isFallbackAdapter: false };
  assert.is(chooseAttentionPath('webgpu', 144, 32, 'f32', true, lavapipe), 'fused');
  assert.is(chooseAttentionPath('webgpu', 144, 32, 'f32', true, gpu), 'composed');
  assert.is(chooseAttentionPath('webgpu', 144, 32, 'f32', false, gpu), 'fused');
  assert.is(chooseAttentionPath('webgpu', 144, 32, 'f32', false, { subgroupSize: 0, isFallbackAdapter: false }), 'composed');
});

s('fused forward + backward returns live tensors to baseline', async () => {
  for (const d of devices) {
    const r = rng(9);
    const mk = (shape: number[], grad: boolean) => F.fromArray(sample({ shape }, r), shape, { device: d, requiresGrad: grad });
    const q = mk([2, 2, 7, 4], true), k = mk([2, 2, 5, 4], true), v = mk([2, 2, 5, 4], true), bias = mk([2, 7, 5], true);
    const mask = mk([2, 1, 1, 5], false);
    const before = F.memoryStats.liveTensors;
    F.scope(() => {
      const out = attention(q, k, v, { bias, mask });
      out.backward(F.onesLike(out));
    });
    for (const t of [q, k, v, bias]) { t.grad?.dispose(); t.grad = null; }
    F.noGrad(() => F.scope(() => { attention(q, k, v, { bias, mask }); }));
    assert.is(F.memoryStats.liveTensors, before, `${d}: live tensors after a step`);
    for (const t of [q, k, v, bias, mask]) t.dispose();
  }
});

s('bad inputs throw naming the op and the shapes', () => {
  const z = (shape: number[]) => F.zeros(shape, 'f32', 'cpu');
  assert.throws(() => attention(z([2, 2, 3, 4]), z([2, 2, 5, 3]), z([2, 2, 5, 4])), /attention: shapes q \(2, 2, 3, 4\)/);
  assert.throws(() => attention(z([2, 2, 3, 4]), z([2, 2, 5, 4]), z([2, 2, 5, 4]), { mask: z([3, 1, 1, 5]) }), /attention: mask/);
  assert.throws(() => attention(z([2, 3, 4]), z([2, 5, 4]), z([2, 5, 4])), /attention: expects q \(B, H, Nq, D\)/);
  assert.throws(() => windowPartition(z([1, 5, 6, 2]), 3), /windowPartition/);
});

s.run();
