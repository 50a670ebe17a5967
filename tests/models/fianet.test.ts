// The FIANet model: exact parameter counts and state-dict keys of the paper configs (FIANET.md §13, §15), the
// tiny config's forward and backward on webgpu matching cpu, dead parameters, ablation switches, bad input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as F from '../../src/index.ts';
import { loadFianetConfig } from '../../src/config/index.ts';
import { FIANet } from '../../src/models/fianet/model.ts';
import { fianetLoss } from '../../src/kernels/loss/loss.op.ts';
import { forwardMacs } from '../../src/models/fianet/summary.ts';
import { fianetParamGroups } from '../../src/train/optim-groups.ts';

let gpu = false;
try { await F.initWebGPU(); gpu = true; } catch { /* cpu only */ }

test('paper configs: exact parameter counts and 885 state-dict entries with official names and shapes', () => {
  const r = loadFianetConfig('configs/rrsisd/fianet_swinb.yaml');
  const m = new FIANet(r.model, { device: 'cpu', skipInit: true });
  assert.is(m.numParameters(), 256_168_626);
  const sd = m.stateDict();
  assert.is(sd.size, 885);
  const shape = (k: string) => { const t = sd.get(k); assert.ok(t, `missing ${k}`); return [...t!.shape]; };
  assert.equal(shape('backbone.patch_embed.proj.weight'), [128, 3, 4, 4]);
  assert.equal(shape('backbone.layers.2.blocks.17.attn.relative_position_bias_table'), [529, 16]);
  assert.equal(shape('backbone.layers.2.blocks.0.attn.relative_position_index'), [144, 144]);
  assert.equal(shape('backbone.layers.2.blocks.0.attn.qkv.weight'), [1536, 512]);
  assert.equal(shape('backbone.layers.1.downsample.reduction.weight'), [512, 1024]);
  assert.equal(shape('backbone.layers.0.fc1.weight'), [16, 128]);
  assert.equal(shape('backbone.layers.0.context_pixel_attn.image_lang_att.f_key.0.weight'), [128, 768, 1]);
  assert.equal(shape('backbone.layers.3.context_tanh_gate.2.weight'), [1024, 1024]);
  assert.equal(shape('backbone.layers.1.object_position_align_blk.conv1.weight'), [1, 2, 3, 3]);
  assert.equal(shape('backbone.layers.1.object_position_align_blk.go_embedding.weight'), [256, 256]);
  assert.equal(shape('backbone.norm3.weight'), [1024]);
  assert.equal(shape('backbone.tmem.down_channel.weight'), [480, 1920, 1, 1]);
  assert.equal(shape('backbone.tmem.block.2.ff.net.3.weight'), [480, 960]);
  assert.equal(shape('backbone.tmem.fusion.3.global_act.weight'), [1024, 1024, 1, 1]);
  assert.equal(shape('backbone.tmem.bn.num_batches_tracked'), []);
  assert.equal(shape('classifier.conv1_4.weight'), [512, 1536, 3, 3]);
  assert.equal(shape('classifier.conv1_1.bias'), [2]);
  assert.equal(shape('text_encoder.embeddings.word_embeddings.weight'), [30522, 768]);
  assert.equal(shape('text_encoder.encoder.layer.11.output.LayerNorm.bias'), [768]);
  assert.not.ok([...sd.keys()].some((k) => k.includes('pooler') || k.includes('attn_mask') || k.includes('drop_path')));
  m.dispose();
  const s = loadFianetConfig('configs/refsegrs/fianet_swinb.yaml');
  const m1 = new FIANet(s.model, { device: 'cpu', skipInit: true });
  assert.is(m1.numParameters(), 251_918_706);
  m1.dispose();
});

function tinyInputs(B: number, S: number, L: number) {
  const g = new F.Generator(5);
  const img = g.normal(B * 3 * S * S);
  const ids = Int32Array.from({ length: B * L }, (_, i) => (i % L < 6 ? 1000 + ((i * 37) % 2000) : 0));
  const mC = Int32Array.from(ids, (v) => (v ? 1 : 0));
  // Two object words: with a single selected word SILA's output is the same for every pixel and its final
  // InstanceNorm maps it to exactly 0, so the object branch would contribute nothing (a property of the model).
  const mG = Int32Array.from({ length: B * L }, (_, i) => (i % L === 2 || i % L === 3 ? 1 : 0));
  const mS = Int32Array.from({ length: B * L }, (_, i) => (i % L >= 3 && i % L < 6 ? 1 : 0));
  const lab = Int32Array.from({ length: B * S * S }, (_, i) => ((i % S) > S / 2 ? 1 : 0));
  return (device: F.DeviceName) => {
    const t = (a: Int32Array) => F.fromArray(a, [B, L], { device, dtype: 'i32' });
    return {
      x: F.fromArray(img, [B, 3, S, S], { device }), ids: t(ids), mC: t(mC), mG: t(mG), mS: t(mS),
      y: F.fromArray(lab, [B, S, S], { device, dtype: 'i32' }),
    };
  };
}

test('fianet-tiny: forward and parameter gradients on webgpu match cpu; dead parameters get no gradient', async () => {
  const c = loadFianetConfig('configs/synthetic/fianet-tiny.yaml');
  const B = 2;
  const make = tinyInputs(B, c.data.image_size, c.data.text_length);
  const results: Record<string, { loss: number; grads: Map<string, Float32Array> }> = {};
  for (const device of gpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const)) {
    const m = new FIANet(c.model, { device, seed: 1 });
    const loss = F.scope(() => {
      const i = make(device);
      const logits = m.forward(i.x, i.ids, i.mC, i.mG, i.mS);
      assert.equal([...logits.shape], [B, 2, c.data.image_size, c.data.image_size]);
      const l = fianetLoss(logits, i.y).loss;
      l.backward();
      return F.keep(l);
    });
    const grads = new Map<string, Float32Array>();
    for (const [k, p] of m.namedParameters()) if (p.grad) grads.set(k, Float32Array.from(await p.grad.toArray()));
    results[device] = { loss: await loss.item(), grads };
    // Stage 4's OPAB, gates and channel modulation are dead (X' is discarded), as are all go_embedding weights.
    const named = new Map(m.namedParameters());
    for (const k of ['backbone.layers.3.fc1.weight', 'backbone.layers.3.context_tanh_gate.0.weight', 'backbone.layers.3.object_position_align_blk.conv1.weight', 'backbone.layers.0.object_position_align_blk.go_embedding.weight']) {
      assert.is(named.get(k)!.grad, null, `${k} should get no gradient`);
    }
    assert.ok(named.get('backbone.layers.0.object_position_align_blk.conv1.weight')!.grad, 'stage-1 OPAB is live');
    assert.ok(named.get('text_encoder.encoder.layer.0.attention.self.query.weight')!.grad, 'BERT is live');
    loss.dispose();
    m.dispose();
  }
  if (gpu) {
    const [a, b] = [results.cpu!, results.webgpu!];
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `loss cpu ${a.loss} vs webgpu ${b.loss}`);
    assert.equal([...a.grads.keys()].sort(), [...b.grads.keys()].sort());
    let global = 0;
    for (const ga of a.grads.values()) for (const v of ga) global = Math.max(global, Math.abs(v));
    for (const [k, ga] of a.grads) {
      const gb = b.grads.get(k)!;
      let scale = 0;
      for (const v of ga) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < ga.length; i++) {
        // Relative to the tensor's largest gradient, with a floor tied to the largest gradient of the model for the
        // biases whose exact gradient is 0 by construction (FIANET.md §5.7: they carry rounding noise only).
        if (Math.abs(ga[i]! - gb[i]!) > 2e-3 * scale + 1e-5 * global) assert.unreachable(`${k}[${i}]: cpu ${ga[i]} vs webgpu ${gb[i]} (max |g| ${scale})`);
      }
    }
  }
});

test('fianet-tiny: three AdamW steps on webgpu track the same steps on cpu', async () => {
  if (!gpu) return;
  const c = loadFianetConfig('configs/synthetic/fianet-tiny.yaml');
  const make = tinyInputs(2, c.data.image_size, c.data.text_length);
  const losses: Record<string, number[]> = {};
  for (const device of ['cpu', 'webgpu'] as const) {
    const m = new FIANet(c.model, { device, seed: 3 });
    const opt = new F.AdamW(m.parameters(), { lr: 1e-3 });
    losses[device] = [];
    for (let s = 0; s < 3; s++) {
      const l = F.scope(() => {
        const i = make(device);
        const loss = fianetLoss(m.forward(i.x, i.ids, i.mC, i.mG, i.mS), i.y).loss;
        loss.backward();
        opt.step();
        m.zeroGrad();
        return F.keep(loss);
      });
      losses[device]!.push(await l.item());
      l.dispose();
    }
    opt.dispose();
    m.dispose();
  }
  losses.cpu!.forEach((l, s) => assert.ok(Math.abs(l - losses.webgpu![s]!) < 1e-3 * Math.max(1, Math.abs(l)), `step ${s}: cpu ${l} vs webgpu ${losses.webgpu![s]}`));
  assert.ok(losses.cpu![2]! < losses.cpu![0]!, 'the loss goes down');
});

test('ablation switches build, run and change the parameter set as documented', () => {
  const base = loadFianetConfig('configs/synthetic/fianet-tiny.yaml');
  const make = tinyInputs(1, base.data.image_size, base.data.text_length);
  const outs: Record<string, number> = {};
  for (const sw of ['none', 'context', 'object', 'spatial', 'opab', 'channel_modulation', 'tmem'] as const) {
    const c = loadFianetConfig('configs/synthetic/fianet-tiny.yaml', sw === 'none' ? [] : [`model.ablation.${sw}=false`]);
    const m = new FIANet(c.model, { device: 'cpu', seed: 1 });
    m.eval();
    const v = F.scope(() => {
      const i = make('cpu');
      return F.keep(F.sum(F.noGrad(() => m.forward(i.x, i.ids, i.mC, i.mG, i.mS))));
    });
    outs[sw] = v.storage.cpu![0]!;
    v.dispose();
    if (sw === 'tmem') assert.not.ok([...m.stateDict().keys()].some((k) => k.startsWith('backbone.tmem')));
    m.dispose();
  }
  for (const sw of ['context', 'object', 'spatial', 'opab', 'channel_modulation', 'tmem']) {
    assert.ok(outs[sw] !== outs.none, `switching off ${sw} changed nothing`);
  }
});

test('forward MACs match FIANET.md §14 (212.0 GMAC at 480, L=22)', () => {
  const m = forwardMacs(loadFianetConfig('configs/rrsisd/fianet_swinb.yaml'));
  const near = (v: number, want: number) => assert.ok(Math.abs(v / 1e9 - want) <= 0.011 * Math.max(1, want / 10), `${(v / 1e9).toFixed(3)} vs ${want}`);
  near(m.bert, 5.63);
  near(m.swin, 85.25);
  near(m.fiam, 11.98);
  near(m.tmem, 2.98);
  near(m.decoder, 106.18);
  near(m.total, 212.0);
  const one = forwardMacs(loadFianetConfig('configs/refsegrs/fianet_swinb.yaml', ['data.text_length=22']));
  near(one.total, 211.4);
});

test('optional absolute position embedding (Swin ape): key, shape, no weight decay, size check', () => {
  const c = loadFianetConfig('configs/synthetic/fianet-tiny.yaml', ['model.backbone.ape=true']);
  const m = new FIANet(c.model, { device: 'cpu', seed: 1, imageSize: c.data.image_size });
  const t = new Map(m.namedParameters()).get('backbone.absolute_pos_embed')!;
  assert.equal([...t.shape], [1, (c.data.image_size / 4) ** 2, c.model.backbone.embed_dim]);
  const groups = fianetParamGroups(m, c);
  const noDecay = groups.groups.findIndex((g) => g.weightDecay === 0);
  assert.ok(groups.names[noDecay]!.includes('backbone.absolute_pos_embed'));
  const make = tinyInputs(1, c.data.image_size, c.data.text_length);
  F.scope(() => {
    const i = make('cpu');
    m.eval();
    F.noGrad(() => m.forward(i.x, i.ids, i.mC, i.mG, i.mS));
    const big = F.zeros([1, 3, 2 * c.data.image_size, 2 * c.data.image_size], 'f32', 'cpu');
    assert.throws(() => m.forward(big, i.ids, i.mC, i.mG, i.mS), /absolute_pos_embed holds 256 positions, the 32x32 patch grid needs 1024/);
  });
  m.dispose();
  const off = new FIANet(loadFianetConfig('configs/synthetic/fianet-tiny.yaml').model, { device: 'cpu', skipInit: true });
  assert.not.ok(off.stateDict().has('backbone.absolute_pos_embed'), 'FIANet itself has no ape');
  off.dispose();
});

test('bad input: image and text shapes are checked', () => {
  const c = loadFianetConfig('configs/synthetic/fianet-tiny.yaml');
  const m = new FIANet(c.model, { device: 'cpu', skipInit: true });
  const ids = F.fromArray(new Int32Array(2 * 4), [2, 4], { device: 'cpu', dtype: 'i32' });
  assert.throws(() => m.forward(F.zeros([2, 1, 8, 8], 'f32', 'cpu'), ids, ids, ids, ids), /images must be \(B, 3, H, W\), found \(2, 1, 8, 8\)/);
  assert.throws(() => m.forward(F.zeros([2, 3, 8, 8], 'f32', 'cpu'), ids, F.reshape(ids, [4, 2]), ids, ids), /contextMask must be \(B, L\) = \(2, 4\), found \(4, 2\)/);
  assert.throws(() => new FIANet({ ...c.model, backbone: { ...c.model.backbone, depths: [1, 1, 1] } }), /needs 4 stages/);
  m.dispose();
});

test.run();
