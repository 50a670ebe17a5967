// Configs: every shipped file resolves and validates; _base_ merges dicts and replaces lists; --set overrides;
// errors name the file, the key path, what was expected and the valid choices.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadFianetConfig } from '../src/config/index.ts';
import { applyOverrides, readConfigFile } from '../src/config/load.ts';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const configs = path.join(root, 'configs');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return f === '_base_' || f === 'sweeps' ? [] : yamlFiles(p);
    return p.endsWith('.yaml') ? [p] : [];
  });
}

test('every shipped config resolves and validates', () => {
  const files = yamlFiles(configs);
  assert.ok(files.length >= 10, `found ${files.length} configs`);
  for (const f of files) loadFianetConfig(f);
});

test('paper settings: RRSIS-D and RefSegRS', () => {
  const r = loadFianetConfig(path.join(configs, 'rrsisd/fianet_swinb.yaml'));
  assert.equal([r.train.epochs, r.train.lr, r.model.num_tmem, r.data.text_length, r.data.box_masking, r.train.batch_size, r.data.image_size],
    [40, 3e-5, 3, 22, true, 8, 480]);
  assert.equal(r.train.bert_train_layers, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.is(r.weights.swin, 'pretrained/swin_base_patch4_window12_384_22k.pth');
  const s = loadFianetConfig(path.join(configs, 'refsegrs/fianet_swinb.yaml'));
  assert.equal([s.train.epochs, s.train.lr, s.model.num_tmem, s.data.text_length, s.data.box_masking], [60, 5e-5, 1, 20, false]);
  const ab = loadFianetConfig(path.join(configs, 'ablation/rrsisd_no_context.yaml'));
  assert.is(ab.model.ablation.context, false);
  assert.is(ab.model.ablation.object, true);
  assert.is(ab.name, 'ablation/rrsisd_no_context');
  assert.is(r.name, 'rrsisd/fianet_swinb');
});

test('_base_ merges mappings and replaces lists; --set overrides with YAML values', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fianet-cfg-'));
  writeFileSync(path.join(dir, 'base.yaml'), 'model: {backbone: {depths: [2, 2, 6, 2], embed_dim: 96}, num_tmem: 3}\n');
  writeFileSync(path.join(dir, 'child.yaml'), '_base_: base.yaml\nmodel: {backbone: {depths: [1, 1]}}\n');
  const merged = readConfigFile(path.join(dir, 'child.yaml')) as { model: { backbone: { depths: number[]; embed_dim: number }; num_tmem: number } };
  assert.equal(merged.model.backbone.depths, [1, 1]);
  assert.is(merged.model.backbone.embed_dim, 96);
  assert.is(merged.model.num_tmem, 3);
  const o = applyOverrides(merged, ['model.num_tmem=1', 'train.lr=5e-5', 'data.root=null', 'model.backbone.depths=[3, 3]']) as Record<string, any>;
  assert.is(o.model.num_tmem, 1);
  assert.is(o.train.lr, 5e-5);
  assert.is(o.data.root, null);
  assert.equal(o.model.backbone.depths, [3, 3]);
  const c = loadFianetConfig(path.join(configs, 'synthetic/fianet-tiny.yaml'), ['train.epochs=2', 'model.ablation.tmem=false']);
  assert.is(c.train.epochs, 2);
  assert.is(c.model.ablation.tmem, false);
});

test('errors name the file, the key path, the expectation and the choices', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fianet-cfg-'));
  const bad = (body: string) => {
    const f = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, body);
    return f;
  };
  assert.throws(() => loadFianetConfig(bad('model: {num_tmme: 2}\n')), /model\.num_tmme: unknown key \(did you mean 'num_tmem'\?\)/);
  assert.throws(() => loadFianetConfig(bad('data: {dataset: rrsid}\n')), /data\.dataset: expected one of rrsisd, refsegrs, found 'rrsid' \(string\) \(did you mean 'rrsisd'\?\)/);
  assert.throws(() => loadFianetConfig(bad('train: {epochs: "ten"}\n')), /train\.epochs: expected an integer, found 'ten' \(string\)/);
  assert.throws(() => loadFianetConfig(bad('train: {betas: [0.9]}\n')), /train\.betas: expected a list of 2/);
  assert.throws(() => loadFianetConfig(bad('model: {backbone: {num_heads: [3, 8, 16, 32]}}\n')), /num_heads\[0\]: 3 heads do not divide the stage width 128/);
  assert.throws(() => loadFianetConfig(bad('_base_: missing.yaml\n')), /missing\.yaml: \(file\): config file not found/);
  const f1 = path.join(dir, 'a.yaml');
  const f2 = path.join(dir, 'b.yaml');
  writeFileSync(f1, '_base_: b.yaml\n');
  writeFileSync(f2, '_base_: a.yaml\n');
  assert.throws(() => loadFianetConfig(f1), /inheritance cycle/);
  assert.throws(() => loadFianetConfig(bad('model: [1, 2]\n')), /model: expected a mapping, found a list of 2/);
  assert.throws(() => applyOverrides({}, ['novalue']), /expected --set key\.path=value/);
});

test.run();
