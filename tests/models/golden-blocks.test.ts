// FIANet's building blocks against PyTorch (tests/fixtures/golden/make_fianet_blocks.py, float64 reference,
// FIANET.md §3-§9): each block is built from the port's own classes, loaded with the exported state dict under
// strict key matching (so the official names are checked too), run forward and backward on cpu and webgpu, and
// compared on outputs, input gradients, every parameter gradient and, for train-mode BN, the running stats.
// Tolerance: |ours - ref| <= RTOL·max|ref| + ATOL per tensor. Gradients that are exactly zero in exact arithmetic
// (biases in front of InstanceNorm / train-mode BN, softmax-shifted key biases, FIANET.md §5.7) are recognised by
// max|ref| < 1e-10 and compared absolutely: |ours| <= ZERO_RTOL · (largest max|ref| over all of the block's
// gradients), since their float32 rounding noise scales with the gradients flowing through the block.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../src/index.ts';
import { shiftMask, shiftMaskTensor } from '../../src/kernels/attention/swin.ts';
import { fianetLoss } from '../../src/kernels/loss/loss.op.ts';
import type { Module } from '../../src/nn/module.ts';
import { BertLayer, type BertConfig } from '../../src/models/fianet/bert.ts';
import { PatchMerging, SwinBlock } from '../../src/models/fianet/swin.ts';
import { SILA } from '../../src/models/fianet/fiam.ts';
import { TMEM } from '../../src/models/fianet/tmem.ts';
import { SimpleDecoding } from '../../src/models/fianet/decoder.ts';

const devices: F.DeviceName[] = ['cpu'];
try {
  await F.initWebGPU();
  devices.push('webgpu');
} catch (e) {
  console.warn(`no webgpu adapter: golden block tests run on cpu only (${(e as Error).message.split('\n')[0]})`);
}

const RTOL = 1e-4;
const ATOL = 1e-6;
const ZERO_RTOL = 1e-5;

interface Enc { shape: number[]; data: number[]; dtype?: 'int' }
interface Golden {
  meta: Record<string, any>;
  inputs: Record<string, Enc>;
  state: Record<string, Enc>;
  grads_out: Record<string, Enc>;
  outputs: Record<string, Enc>;
  input_grads: Record<string, Enc>;
  param_grads: Record<string, Enc>;
  buffers_after?: Record<string, Enc>;
  shiftMask?: Enc;
}
// GOLDEN_BLOCKS_JSON points at another fixture (used to check that deliberately wrong references fail).
const fixture = process.env.GOLDEN_BLOCKS_JSON ?? new URL('../fixtures/golden/fianet_blocks.json', import.meta.url);
const golden: Record<string, Golden> = JSON.parse(readFileSync(fixture, 'utf8'));

/** Worst error seen per block and device, relative to max|ref| (printed at the end for the report). */
const worst: string[] = [];

const maxAbs = (xs: number[]) => xs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function compare(got: ArrayLike<number>, want: Enc, what: string, zeroTol = 0): number {
  assert.is(got.length, want.data.length, `${what}: length`);
  const scale = maxAbs(want.data);
  let err = 0;
  if (scale < 1e-10) {
    for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i]!));
    if (!(err <= zeroTol)) assert.unreachable(`${what}: an exactly-zero gradient came out with max |value| ${err} (abs tol ${zeroTol})`);
    return 0;
  }
  const tol = RTOL * scale + ATOL;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i]! - want.data[i]!);
    if (!(e <= tol)) assert.unreachable(`${what}: element ${i}: ${got[i]} vs ${want.data[i]} (|err| ${e.toExponential(3)} > ${tol.toExponential(3)}, max|ref| ${scale.toExponential(3)})`);
    err = Math.max(err, e);
  }
  return err / scale;
}

function hostState(state: Record<string, Enc>): Map<string, F.HostTensor> {
  return new Map(Object.entries(state).map(([k, v]) =>
    [k, { shape: v.shape, data: v.dtype === 'int' ? Int32Array.from(v.data) : Float32Array.from(v.data) }]));
}

type Forward = (m: Module, x: Record<string, F.Tensor>, d: F.DeviceName) => Record<string, F.Tensor>;

/**
 * Builds the block, loads the golden state dict strictly, runs the forward, backpropagates Σ_k <out_k, g_k>
 * and compares everything the golden entry holds. Labels are i32 and word masks are plain (no gradient) inputs.
 */
async function checkBlock(name: string, d: F.DeviceName, build: (d: F.DeviceName) => Module, fwd: Forward, root?: (m: Module) => Module) {
  const G = golden[name]!;
  const owner = build(d);
  const mod = root ? root(owner) : owner;
  mod.loadStateDict(hostState(G.state), { strict: true });
  const res = F.scope(() => {
    const x: Record<string, F.Tensor> = {};
    for (const [k, v] of Object.entries(G.inputs)) {
      x[k] = F.fromArray(v.data, v.shape, { device: d, dtype: k === 'labels' ? 'i32' : 'f32', requiresGrad: k in G.input_grads });
    }
    const outs = fwd(mod, x, d);
    let total: F.Tensor | null = null;
    for (const [k, y] of Object.entries(outs)) {
      if (!(k in G.grads_out)) continue;
      const g = F.fromArray(G.grads_out[k]!.data, G.grads_out[k]!.shape, { device: d });
      const term = F.sum(F.mul(y, g));
      total = total ? F.add(total, term) : term;
    }
    total!.backward();
    const keepAll = (r: Record<string, F.Tensor>) => Object.fromEntries(Object.entries(r).map(([k, t]) => [k, F.keep(t)]));
    return { outs: keepAll(outs), grads: keepAll(Object.fromEntries(Object.keys(G.input_grads).map((k) => [k, x[k]!.grad!]))) };
  });
  const zeroTol = ZERO_RTOL * Math.max(...[...Object.values(G.param_grads), ...Object.values(G.input_grads)].map((t) => maxAbs(t.data)));
  let rel = 0;
  for (const [k, want] of Object.entries(G.outputs)) {
    assert.ok(res.outs[k], `${name}: output ${k} missing`);
    assert.equal([...res.outs[k]!.shape], want.shape, `${name}: output ${k} shape`);
    rel = Math.max(rel, compare(await res.outs[k]!.toArray(), want, `${name} on ${d}: output ${k}`));
  }
  for (const [k, want] of Object.entries(G.input_grads)) {
    rel = Math.max(rel, compare(await res.grads[k]!.toArray(), want, `${name} on ${d}: d${k}`));
  }
  const params = new Map(mod.namedParameters());
  for (const [k, want] of Object.entries(G.param_grads)) {
    const p = params.get(k);
    assert.ok(p?.grad, `${name} on ${d}: parameter ${k} has no gradient`);
    rel = Math.max(rel, compare(await p!.grad!.toArray(), want, `${name} on ${d}: grad of ${k}`, zeroTol));
  }
  const buffers = new Map(mod.namedBuffers());
  for (const [k, want] of Object.entries(G.buffers_after ?? {})) {
    const got = await buffers.get(k)!.toArray();
    if (want.dtype === 'int') assert.equal(Array.from(got), want.data, `${name} on ${d}: ${k}`);
    else rel = Math.max(rel, compare(got, want, `${name} on ${d}: ${k} after one train forward`));
  }
  worst.push(`${name} on ${d}: worst |err| / max|ref| = ${rel.toExponential(2)}`);
  for (const t of [...Object.values(res.outs), ...Object.values(res.grads)]) t.dispose();
  owner.dispose();
}

/** The key mask as BertModel forms it: (1 - m)·(-10000), (B, 1, 1, L). */
const extendedMask = (m: F.Tensor) => F.reshape(F.mul(F.sub(1, m), -10000), [m.shape[0]!, 1, 1, m.shape[1]!]);

const BLOCKS: { name: string; build: (d: F.DeviceName) => Module; fwd: Forward; root?: (m: Module) => Module }[] = [
  {
    name: 'swin',
    build: (d) => { const M = golden.swin!.meta; return new SwinBlock(M.C, M.heads, M.ws, M.shift, 0, M.mlpRatio, { device: d }, undefined); },
    fwd: (m, x, d) => {
      const M = golden.swin!.meta;
      const Hp = Math.ceil(M.H / M.ws) * M.ws, Wp = Math.ceil(M.W / M.ws) * M.ws;
      return { out: (m as SwinBlock).forward(x.x!, M.H, M.W, shiftMaskTensor(Hp, Wp, M.ws, M.shift, d)) };
    },
  },
  {
    name: 'patch_merge',
    build: (d) => new PatchMerging(golden.patch_merge!.meta.C, { device: d }),
    fwd: (m, x) => ({ out: (m as PatchMerging).forward(x.x!, golden.patch_merge!.meta.H, golden.patch_merge!.meta.W).x }),
  },
  {
    name: 'bert_layer',
    build: (d) => {
      const M = golden.bert_layer!.meta;
      const c: BertConfig = { vocab_size: 8, hidden_size: M.hidden, num_layers: 1, num_heads: M.heads, intermediate_size: M.intermediate, max_position: M.L, layer_norm_eps: M.eps, dropout: 0 };
      return new BertLayer(c, { device: d }, undefined).eval();
    },
    fwd: (m, x) => ({ out: (m as BertLayer).forward(x.x!, extendedMask(x.m!)) }),
  },
  {
    name: 'sila',
    build: (d) => { const M = golden.sila!.meta; return new SILA(M.C, M.textDim, M.C, M.heads, { device: d }); },
    fwd: (m, x) => ({ out: (m as SILA).forward(x.x!, x.text!, x.m!) }),
  },
  {
    // TMEMBlock is not exported: take block 0 of a one-block TMEM with the same widths.
    name: 'tmem_block',
    build: (d) => { const M = golden.tmem_block!.meta; return new TMEM(M.widths, M.textDim, 1, { device: d }); },
    root: (m) => (m as TMEM).block.at(0),
    fwd: (m, x) => ({ out: (m as ReturnType<TMEM['block']['at']>).forward(x.t!, x.text!, x.m!) }),
  },
  {
    name: 'tmem',
    build: (d) => { const M = golden.tmem!.meta; return new TMEM(M.widths, M.textDim, M.numBlocks, { device: d }).train(); },
    fwd: (m, x) => {
      const ys = (m as TMEM).forward([x.x0!, x.x1!, x.x2!, x.x3!], x.text!, x.m!);
      return Object.fromEntries(ys.map((y, i) => [`y${i}`, y]));
    },
  },
  {
    name: 'decoder',
    build: (d) => { const M = golden.decoder!.meta; return new SimpleDecoding(M.widths, M.hidden, { device: d }).train(); },
    fwd: (m, x) => ({ out: (m as SimpleDecoding).forward(x.y4!, x.y3!, x.y2!, x.y1!) }),
  },
];

const s = suite('golden FIANet blocks');

for (const b of BLOCKS) {
  for (const d of devices) s(`${b.name} on ${d}: forward, input and parameter gradients vs PyTorch`, () => checkBlock(b.name, d, b.build, b.fwd, b.root));
}

s('swin: our shift mask on the padded grid equals the reference (§6.5)', () => {
  const M = golden.swin!.meta;
  const m = shiftMask(Math.ceil(M.H / M.ws) * M.ws, Math.ceil(M.W / M.ws) * M.ws, M.ws, M.shift);
  assert.equal(Array.from(m), golden.swin!.shiftMask!.data);
});

for (const d of devices) {
  s(`loss on ${d}: 0.9·weighted CE + 0.1·ΣDice, value, components and dlogits vs PyTorch`, async () => {
    const G = golden.loss!;
    const { loss, ce, dice, dz } = F.scope(() => {
      const z = F.fromArray(G.inputs.z!.data, G.inputs.z!.shape, { device: d, requiresGrad: true });
      const y = F.fromArray(G.inputs.labels!.data, G.inputs.labels!.shape, { device: d, dtype: 'i32' });
      const r = fianetLoss(z, y);
      r.loss.backward(F.fromArray(G.grads_out.loss!.data, [], { device: d }));
      return { loss: F.keep(r.loss), ce: F.keep(r.ce), dice: F.keep(r.dice), dz: F.keep(z.grad!) };
    });
    const rel = Math.max(
      compare(await loss.toArray(), G.outputs.loss!, `loss on ${d}: value`),
      compare(await ce.toArray(), { shape: [], data: [G.meta.ce] }, `loss on ${d}: CE`),
      compare(await dice.toArray(), { shape: [], data: [G.meta.dice] }, `loss on ${d}: ΣDice`),
      compare(await dz.toArray(), G.input_grads.z!, `loss on ${d}: dlogits`));
    worst.push(`loss on ${d}: worst |err| / max|ref| = ${rel.toExponential(2)}`);
    for (const t of [loss, ce, dice, dz]) t.dispose();
  });
}

s('worst relative errors (printed with GOLDEN_VERBOSE=1)', () => {
  if (process.env.GOLDEN_VERBOSE) console.log(worst.join('\n'));
});

s.run();
