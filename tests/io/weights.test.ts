// Checkpoint and weight I/O: safetensors read/write (byte-exact against the reference writer in
// tests/fixtures/weights/make_weights.py), PyTorch zip / ZIP64+deflate / legacy import through the allow-list,
// the §15.6 key mappings, convert(), the Module round trip on every device, and errors for corrupt inputs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as F from '../../src/index.ts';
import {
  checkpointMetadata, decodeElements, encodeElements, LoadedTensor, loadStateDictFile, readCheckpointMeta, readSafetensors,
  saveStateDict, writeSafetensors, type WeightDType, type WritableTensor,
} from '../../src/io/safetensors.ts';
import { loadTorchFile, torchStateDict } from '../../src/io/torch-load.ts';
import { detectKind, loadPretrained, mapPretrained, mapStateDict } from '../../src/io/pretrained.ts';
import { convert } from '../../src/cli/convert.ts';
import { BatchNorm2d } from '../../src/nn/norm.ts';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'weights');
const fx = (n: string) => path.join(FIX, n);
type Exp = { shape: number[]; values: number[]; dtype: WeightDType };
const EXP = JSON.parse(readFileSync(fx('expected.json'), 'utf8')) as Record<string, Record<string, Exp>> & {
  st_meta: Record<string, string>; st_order: string[]; ckpt_exp_avg: Exp; ckpt_param: Exp;
};
const tmp = mkdtempSync(path.join(os.tmpdir(), 'fianet-weights-'));
const tmpf = (n: string) => path.join(tmp, n);

let gpu = false;
try { await F.initWebGPU(); gpu = true; } catch { /* cpu only */ }
const devices: F.DeviceName[] = gpu ? ['cpu', 'webgpu'] : ['cpu'];

function same(got: LoadedTensor | undefined, exp: Exp, name: string, dtype = true): void {
  assert.ok(got instanceof LoadedTensor, `${name}: missing or not a tensor`);
  assert.equal(got.shape, exp.shape, `${name}: shape`);
  if (dtype) assert.is(got.dtype, exp.dtype, `${name}: dtype`);
  assert.is(got.data.length, exp.values.length, `${name}: length`);
  for (let i = 0; i < exp.values.length; i++) {
    if (!Object.is(got.data[i], exp.values[i])) assert.unreachable(`${name}[${i}]: got ${got.data[i]}, expected ${exp.values[i]}`);
  }
}

async function throwsWith(fn: () => Promise<unknown>, ...parts: (string | RegExp)[]): Promise<string> {
  try {
    await fn();
  } catch (err) {
    const msg = (err as Error).message;
    for (const p of parts) assert.ok(typeof p === 'string' ? msg.includes(p) : p.test(msg), `error "${msg}" should mention ${p}`);
    return msg;
  }
  assert.unreachable(`should throw (${parts.join(', ')})`);
  return '';
}

// ------------------------------------------------------------------------------------------------ torch import

for (const f of ['sd_zip.pth', 'sd_legacy.pth', 'sd_zip64_deflate.pth']) {
  test(`${f}: every dtype, transposed, strided and storage-sharing tensors come out exact`, async () => {
    const sd = await torchStateDict(fx(f));
    assert.equal([...sd.keys()], Object.keys(EXP.sd!), 'key order is the OrderedDict order');
    for (const [k, e] of Object.entries(EXP.sd!)) same(sd.get(k), e, `${f}:${k}`);
    assert.ok(sd.get('h')!.data instanceof Float32Array, 'f16 is widened to f32');
    assert.ok(sd.get('idx')!.data instanceof Float64Array, 'int64 reads as exact numbers');
  });
}

for (const f of ['ckpt_zip.pth', 'ckpt_legacy.pth']) {
  test(`${f}: a training checkpoint loads as plain data (Namespace, numpy scalar, Parameter, optimizer)`, async () => {
    const root = (await loadTorchFile(fx(f))) as Map<string, unknown>;
    assert.ok(root instanceof Map);
    assert.is(root.get('epoch'), 3);
    assert.equal(root.get('args'), { lr: 3e-5, epochs: 40, num_tmem: 3, dataset: 'rrsisd', swin_type: 'base', pretrained_swin_weights: 'x.pth' });
    assert.is(root.get('best_oIoU'), 77.25);
    same(root.get('param') as LoadedTensor, EXP.ckpt_param, 'param', false);
    const opt = root.get('optimizer') as Map<string, unknown>;
    const st = (opt.get('state') as Map<number, Map<string, unknown>>).get(0)!;
    same(st.get('exp_avg') as LoadedTensor, EXP.ckpt_exp_avg, 'exp_avg', false);
    const groups = opt.get('param_groups') as Map<string, unknown>[];
    assert.equal(groups[0]!.get('betas'), [0.9, 0.999]);
    assert.equal((root.get('lr_scheduler') as Map<string, unknown>).get('last_epoch'), 4566);
    const model = root.get('model') as Map<string, LoadedTensor>;
    for (const [k, e] of Object.entries(EXP.ckpt_model!)) same(model.get(k), e, k);

    const sd = await torchStateDict(fx(f));
    assert.equal([...sd.keys()], Object.keys(EXP.ckpt_model!), "finds the state dict under 'model'");
    await throwsWith(() => torchStateDict(fx(f), { key: 'optimizer' }), f, 'optimizer', 'not a dict of tensors');
    await throwsWith(() => torchStateDict(fx(f), { key: 'nope' }), 'nope', 'not found');
  });
}

test('malicious pickle (os.system via REDUCE) is refused, naming the global and the file', async () => {
  const msg = await throwsWith(() => loadTorchFile(fx('malicious.pth')), 'malicious.pth', 'refusing', /posix\.system|os\.system/);
  assert.not.ok(msg.includes('pwned-by-pickle\n'));
  await throwsWith(() => torchStateDict(fx('malicious.pth')), 'refusing');
});

test('corrupt torch files: errors name the file and the part', async () => {
  const zip = readFileSync(fx('sd_zip.pth'));
  writeFileSync(tmpf('cut.pth'), zip.subarray(0, zip.length - 30));
  await throwsWith(() => loadTorchFile(tmpf('cut.pth')), 'cut.pth', 'zip');
  // Flip a byte inside the first storage: the CRC check names the entry.
  const bad = Buffer.from(zip);
  const at = bad.indexOf(Buffer.from('sd_zip/data/0')); // the name in the local header (offset 30 of the header)
  const dataAt = at + bad.readUInt16LE(at - 4) + bad.readUInt16LE(at - 2); // + name length + extra length
  bad[dataAt + 2]! ^= 0xff;
  writeFileSync(tmpf('flip.pth'), bad);
  await throwsWith(() => torchStateDict(tmpf('flip.pth')), 'flip.pth', 'sd_zip/data/0', 'CRC');
  const legacy = readFileSync(fx('sd_legacy.pth'));
  for (const cut of [5, 300, legacy.length - 10]) {
    writeFileSync(tmpf('cut_legacy.pth'), legacy.subarray(0, cut));
    await throwsWith(() => loadTorchFile(tmpf('cut_legacy.pth')), 'cut_legacy.pth', /truncated/);
  }
  writeFileSync(tmpf('junk.pth'), Buffer.from('PK\x03\x04 not really a zip'));
  await throwsWith(() => loadTorchFile(tmpf('junk.pth')), 'junk.pth', 'end of central directory');
});

// ------------------------------------------------------------------------------------------------ key mapping

test('HF BERT (legacy .bin, bert. prefix): embeddings/encoder mapped, gamma/beta renamed, pooler/cls ignored', async () => {
  const sd = await torchStateDict(fx('bert_legacy.bin'));
  const { kind, mapped, report } = mapPretrained(sd);
  assert.is(kind, 'bert');
  assert.equal([...mapped.keys()], [
    'text_encoder.embeddings.word_embeddings.weight',
    'text_encoder.embeddings.LayerNorm.weight',
    'text_encoder.embeddings.LayerNorm.bias',
    'text_encoder.encoder.layer.0.attention.self.query.weight',
    'text_encoder.encoder.layer.0.output.LayerNorm.weight',
    'text_encoder.encoder.layer.1.intermediate.dense.bias',
  ]);
  assert.equal(report.ignored, ['bert.embeddings.position_ids', 'bert.pooler.dense.weight', 'cls.predictions.bias']);
  assert.equal(report.unmatched, []);
  same(mapped.get('text_encoder.encoder.layer.0.output.LayerNorm.weight'), EXP.bert!['bert.encoder.layer.0.output.LayerNorm.gamma']!, 'gamma');
  const np = await loadPretrained(fx('bert_noprefix.pth'), 'bert');
  assert.ok(np.mapped.has('text_encoder.embeddings.LayerNorm.bias'));
  assert.ok(np.mapped.has('text_encoder.encoder.layer.1.intermediate.dense.bias'));
  assert.equal(np.report.ignored, ['embeddings.position_ids', 'pooler.dense.weight']);
});

test("Swin file ('model' dict): backbone. prefix, norm/head/attn_mask ignored, int64 index kept", async () => {
  const { kind, mapped, report } = await loadPretrained(fx('swin.pth'), 'auto', { key: 'model' });
  assert.is(kind, 'swin');
  assert.equal([...mapped.keys()], [
    'backbone.patch_embed.proj.weight', 'backbone.patch_embed.norm.weight',
    'backbone.layers.0.blocks.0.attn.relative_position_bias_table', 'backbone.layers.0.blocks.0.attn.relative_position_index',
    'backbone.layers.0.downsample.reduction.weight',
  ]);
  assert.equal(report.ignored, ['layers.0.blocks.1.attn_mask', 'norm.weight', 'head.weight', 'head.bias']);
  same(mapped.get('backbone.layers.0.blocks.0.attn.relative_position_index'), EXP.swin!['layers.0.blocks.0.attn.relative_position_index']!, 'rpi');
});

test('FIANet checkpoints pass through (module. stripped); detectKind reads keys only; collisions throw', () => {
  const t = new LoadedTensor([1], 'F32', new Float32Array([1]));
  const sd = new Map([['module.backbone.norm0.weight', t], ['module.classifier.conv1_1.bias', t]]);
  assert.is(detectKind(sd.keys()), 'fianet');
  const r = mapPretrained(sd);
  assert.equal([...r.mapped.keys()], ['backbone.norm0.weight', 'classifier.conv1_1.bias']);
  assert.is(detectKind(['foo.weight']), 'raw');
  assert.equal([...mapPretrained(new Map([['foo.weight', t]])).mapped.keys()], ['foo.weight']);
  assert.throws(() => mapStateDict(new Map([['a.x', 1], ['b.x', 2]]), [{ pattern: /^\w\./, to: '' }]), /both map to/);
  const custom = mapStateDict(new Map([['a.w', 1], ['z', 2]]), [{ pattern: /^a\./, to: 'net.' }], { keepUnmatched: false });
  assert.equal([...custom.mapped.entries()], [['net.w', 1]]);
  assert.equal(custom.report.unmatched, ['z']);
});

// ------------------------------------------------------------------------------------------------ safetensors

const stTensors = (): Map<string, WritableTensor> =>
  new Map(EXP.st_order.map((k) => [k, { shape: EXP.st![k]!.shape, dtype: EXP.st![k]!.dtype, data: EXP.st![k]!.values }]));

test('safetensors written by the Python reference writer read back exactly (metadata too)', async () => {
  const { tensors, metadata } = await readSafetensors(fx('st_py.safetensors'));
  assert.equal(metadata, EXP.st_meta);
  for (const k of EXP.st_order) same(tensors.get(k), EXP.st![k]!, k);
  const meta = await readCheckpointMeta(fx('st_py.safetensors'));
  assert.equal(meta.modelConfig, { swin: 'tiny', num_tmem: 1 });
  assert.is(meta.tensors.length, EXP.st_order.length);
  const some = await readSafetensors(fx('st_py.safetensors'), { keys: (n) => n.startsWith('f') });
  assert.equal([...some.tensors.keys()].sort(), ['f16', 'f32', 'f64']);
});

test('our writer produces the same bytes as the reference writer (sorted layout, padded header)', async () => {
  await writeSafetensors(tmpf('ts.safetensors'), stTensors(), EXP.st_meta);
  const ours = readFileSync(tmpf('ts.safetensors'));
  const ref = readFileSync(fx('st_py.safetensors'));
  assert.is(ours.length, ref.length);
  assert.ok(ours.equals(ref), 'byte-identical to st_py.safetensors');
  assert.is(ours.readUInt32LE(0) % 8, 0, 'header length is a multiple of 8');
  assert.equal(readdirSync(tmp).filter((n) => n.includes('.tmp-')), [], 'no temporary file left behind');
});

test('element codecs: bf16 rounds to nearest even, f16 overflow, integer range checks', () => {
  const fail = (m: string): never => { throw new Error(m); };
  const bf = encodeElements([1.00390625, 1.01171875, -0, NaN, 3e38], 'BF16', fail);
  const back = decodeElements(bf, 'BF16', fail);
  assert.equal(Array.from(back).slice(0, 3), [1, 1.015625, -0]);
  assert.ok(Number.isNaN(back[3]!));
  assert.is(back[4], 3.00405527047391e38); // torch 1.13: tensor(3e38).bfloat16() gives the same
  assert.equal(Array.from(decodeElements(encodeElements([65520, 1e-8, -2.5], 'F16', fail), 'F16', fail)), [Infinity, 0, -2.5]);
  assert.equal(Array.from(decodeElements(encodeElements([-(2 ** 53) + 1, -1, 2 ** 33 + 5], 'I64', fail), 'I64', fail)), [-(2 ** 53) + 1, -1, 2 ** 33 + 5]);
  assert.throws(() => encodeElements([1.5], 'I32', fail), /not a valid I32/);
  assert.throws(() => encodeElements([256], 'U8', fail), /not a valid U8/);
  assert.throws(() => encodeElements([2], 'BOOL', fail), /not a valid BOOL/);
  const big = new Uint8Array(8);
  new DataView(big.buffer).setBigInt64(0, 2n ** 60n, true);
  assert.throws(() => decodeElements(big, 'I64', fail), /does not fit/);
});

/** A safetensors file with a hand-made header (and enough zero data). */
function craft(name: string, header: unknown, dataBytes: number): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(tmpf(name), Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return tmpf(name);
}

test('corrupt safetensors: errors name the file and the tensor or field', async () => {
  const good = readFileSync(fx('st_py.safetensors'));
  writeFileSync(tmpf('short.safetensors'), good.subarray(0, 5));
  await throwsWith(() => readSafetensors(tmpf('short.safetensors')), 'short.safetensors', 'header length', 'truncated');
  writeFileSync(tmpf('cuthdr.safetensors'), good.subarray(0, 100));
  await throwsWith(() => readSafetensors(tmpf('cuthdr.safetensors')), 'cuthdr.safetensors', 'header length', 'only');
  writeFileSync(tmpf('cutdata.safetensors'), good.subarray(0, good.length - 3));
  await throwsWith(() => readSafetensors(tmpf('cutdata.safetensors')), 'cutdata.safetensors', 'tensor', 'past the end');
  const e = (dtype: string, shape: number[], off: number[]) => ({ dtype, shape, data_offsets: off });
  await throwsWith(() => readSafetensors(craft('dtype.safetensors', { x: e('F8_E9', [1], [0, 1]) }, 1)), 'dtype.safetensors', '"x"', 'unknown dtype');
  await throwsWith(() => readSafetensors(craft('size.safetensors', { w: e('F32', [2, 3], [0, 20]) }, 24)), 'size.safetensors', '"w"', 'needs 24 bytes');
  await throwsWith(() => readSafetensors(craft('overlap.safetensors', { a: e('F32', [2], [0, 8]), b: e('F32', [2], [4, 12]) }, 12)),
    'overlap.safetensors', 'overlap');
  await throwsWith(() => readSafetensors(craft('range.safetensors', { a: e('F32', [4], [8, 24]) }, 12)), 'range.safetensors', '"a"', 'past the end');
  await throwsWith(() => readSafetensors(craft('offs.safetensors', { a: e('F32', [1], [4, 0]) }, 4)), 'offs.safetensors', 'data_offsets');
  await throwsWith(() => readSafetensors(craft('meta.safetensors', { __metadata__: { k: 1 } }, 0)), 'meta.safetensors', '__metadata__.k');
  // A header of 640 = 0x0280 bytes starts the file with 0x80 0x02 like a pickle: still read as safetensors.
  const h640 = JSON.stringify({ a: e('F32', [1], [0, 4]) });
  const p640 = craft('h640.safetensors', h640 + ' '.repeat(640 - h640.length), 4);
  assert.equal((await loadStateDictFile(p640)).get('a')!.shape, [1]);
  writeFileSync(tmpf('random.bin'), Buffer.from('0123456789abcdefghij'));
  await throwsWith(() => loadStateDictFile(tmpf('random.bin')), 'random.bin', 'format');
  writeFileSync(tmpf('json.safetensors'), Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a"')]));
  await throwsWith(() => readSafetensors(tmpf('json.safetensors')), 'json.safetensors', 'invalid JSON');
  await throwsWith(() => writeSafetensors(tmpf('w.safetensors'), new Map([['w', { shape: [2], dtype: 'F32', data: [1, 2, 3] }]])), 'w.safetensors', '"w"', 'needs 2 values');
  await throwsWith(() => writeSafetensors(tmpf('w.safetensors'), new Map([['i', { shape: [1], dtype: 'I32', data: [0.5] }]])), '"i"', 'not a valid I32');
  assert.equal(readdirSync(tmp).filter((n) => n.includes('.tmp-') || n === 'w.safetensors'), [], 'failed writes leave nothing');
});

// ------------------------------------------------------------------------------------------------ module round trip

class Net extends F.Module {
  constructor(device: F.DeviceName, seed: number) {
    super();
    this.registerModule('fc', new F.Linear(5, 3, true, { device, generator: new F.Generator(seed) }));
    this.registerModule('bn', new BatchNorm2d(3, { device }));
    this.registerBuffer('index', F.fromArray(new Int32Array([seed, -1, 7, 143, 0, 2 ** 30]), [2, 3], { dtype: 'i32', device }));
  }
}

for (const device of devices) {
  test(`Module -> saveStateDict -> loadStateDictFile -> loadStateDict restores exact values (${device})`, async () => {
    const src = new Net(device, 1);
    // Make every tensor distinct, buffers included.
    const g = new F.Generator(5);
    const fill = new Map<string, F.HostTensor>();
    for (const [k, t] of src.stateDict()) {
      fill.set(k, { shape: [...t.shape], data: t.dtype === 'i32' ? Int32Array.from(g.uniform(t.size, -100, 100), Math.round) : Float32Array.from(g.uniform(t.size, -2, 2)) });
    }
    src.loadStateDict(fill);
    const cfg = { model: 'net', width: 5 };
    await saveStateDict(tmpf(`net-${device}.safetensors`), src, checkpointMetadata(cfg, { epoch: '3' }));
    const meta = await readCheckpointMeta(tmpf(`net-${device}.safetensors`));
    assert.equal(meta.modelConfig, cfg);
    assert.is(meta.metadata.epoch, '3');
    const dst = new Net(device, 2);
    const report = dst.loadStateDict(await loadStateDictFile(tmpf(`net-${device}.safetensors`)));
    assert.equal(report, { missing: [], unexpected: [], mismatched: [] });
    const a = src.stateDict();
    for (const [k, t] of dst.stateDict()) {
      const want = await a.get(k)!.toArray();
      const got = await t.toArray();
      assert.is(t.dtype, a.get(k)!.dtype, k);
      assert.equal(Array.from(got), Array.from(want), `${k} restored exactly`);
    }
    // PyTorch's int64 num_batches_tracked narrows into our i32 buffer.
    await writeSafetensors(tmpf(`bn-${device}.safetensors`), new Map<string, WritableTensor>([
      ['weight', { shape: [3], dtype: 'F16', data: [0.5, -1, 2] }], ['bias', { shape: [3], dtype: 'F32', data: [1, 2, 3] }],
      ['running_mean', { shape: [3], dtype: 'F64', data: [0.25, 0, -4] }], ['running_var', { shape: [3], dtype: 'BF16', data: [1, 2, 4] }],
      ['num_batches_tracked', { shape: [], dtype: 'I64', data: [17] }],
    ]));
    const bn = new BatchNorm2d(3, { device });
    bn.loadStateDict(await loadStateDictFile(tmpf(`bn-${device}.safetensors`)));
    assert.equal(Array.from(await bn.num_batches_tracked!.toArray()), [17]);
    assert.equal(Array.from(await bn.running_mean!.toArray()), [0.25, 0, -4]);
    assert.equal(Array.from(await bn.weight!.toArray()), [0.5, -1, 2]);
    bn.dispose();
    // A torch file loads through the same entry point (container sniffed from the bytes).
    assert.is((await loadStateDictFile(fx('sd_zip.pth'))).size, Object.keys(EXP.sd!).length);
    src.dispose();
    dst.dispose();
  });
}

// ------------------------------------------------------------------------------------------------ convert

test('convert: .bin -> safetensors with the BERT mapping, config stored, dtypes kept', async () => {
  const lines: string[] = [];
  const s = await convert(fx('bert_legacy.bin'), tmpf('bert.safetensors'), { config: '{"swin": "base"}', log: (l) => lines.push(l) });
  assert.is(s.kind, 'bert');
  assert.is(s.tensors, 6);
  assert.equal(s.ignored.length, 3);
  assert.is(s.parameters, 24 + 4 + 4 + 16 + 4 + 8);
  assert.ok(lines.join('\n').includes('ignored (3)'));
  const { tensors, metadata } = await readSafetensors(tmpf('bert.safetensors'));
  assert.equal(JSON.parse(metadata['fianet.model_config']!), { swin: 'base' });
  same(tensors.get('text_encoder.embeddings.word_embeddings.weight'), EXP.bert!['bert.embeddings.word_embeddings.weight']!, 'word_embeddings');
});

test('convert: official-style checkpoint (auto -> fianet, args kept as provenance), raw, and safetensors input', async () => {
  const s = await convert(fx('ckpt_zip.pth'), tmpf('ck.safetensors'), { log: () => {} });
  assert.is(s.kind, 'fianet');
  const { tensors, metadata } = await readSafetensors(tmpf('ck.safetensors'));
  assert.equal([...tensors.keys()].sort(), Object.keys(EXP.ckpt_model!).sort());
  assert.is(tensors.get('classifier.bn1_4.num_batches_tracked')!.dtype, 'I64');
  assert.is(JSON.parse(metadata['fianet.source_args']!).num_tmem, 3);
  const raw = await convert(fx('sd_legacy.pth'), tmpf('raw.safetensors'), { kind: 'raw', log: () => {} });
  assert.is(raw.tensors, Object.keys(EXP.sd!).length);
  const back = await readSafetensors(tmpf('raw.safetensors'));
  for (const [k, e] of Object.entries(EXP.sd!)) same(back.tensors.get(k), e, `raw:${k}`);
  const again = await convert(tmpf('raw.safetensors'), tmpf('raw2.safetensors'), { log: () => {} });
  assert.is(again.format, 'safetensors');
  await throwsWith(() => convert(fx('sd_zip.pth'), tmpf('x.safetensors'), { config: '{bad', log: () => {} }), 'config', 'JSON');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
