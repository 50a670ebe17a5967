// The user-facing loop on a tiny run: train, eval (metrics, per-sample CSV, predictions, gallery, text swap),
// predict on an image file, report; re-evaluating without --force refuses to overwrite results.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as F from '../../src/index.ts';
import { train } from '../../src/train/trainer.ts';
import { runEval } from '../../src/cli/eval.ts';
import { runPredict } from '../../src/cli/predict.ts';

test('train -> eval (+ text swap) -> predict, and no silent overwrite', async () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'fianet-cli-'));
  const r = await train({
    config: 'configs/synthetic/fianet-tiny.yaml', quiet: true, experiments: path.join(tmp, 'exp'),
    overrides: ['data.synthetic.n=40', 'data.synthetic.size=64', `data.synthetic.dir=${path.join(tmp, 'syn')}`, 'data.image_size=64',
      'data.text_length=12', 'train.epochs=1', 'train.grad_accum=2', 'train.log_every=1'],
  });
  for (const f of ['config.yaml', 'env.json', 'train.log', 'metrics.csv', 'metrics.jsonl', 'checkpoints/best.safetensors', 'checkpoints/last.state.json', 'eval/test/metrics.json']) {
    assert.ok(existsSync(path.join(r.runDir, f)), `${f} missing`);
  }
  const rows = readFileSync(path.join(r.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const trainRow = rows.find((x) => x.type === 'train')!;
  for (const k of ['loss', 'lr', 'images_per_s', 'ms_step']) assert.ok(typeof trainRow[k] === 'number', `train row lacks ${k}`);
  assert.ok(rows.some((x) => x.type === 'val' && typeof x.mIoU === 'number'));
  const env = JSON.parse(readFileSync(path.join(r.runDir, 'env.json'), 'utf8')) as { node: string; packages: Record<string, string> };
  assert.is(env.node, process.version);
  assert.ok(env.packages.webgpu);

  const m = await runEval({ target: r.runDir, split: 'val', savePreds: true, gallery: 1, quiet: true }) as Record<string, unknown>;
  assert.is(m.protocol, 'network');
  const dir = path.join(r.runDir, 'eval', 'val');
  assert.ok(readFileSync(path.join(dir, 'samples.csv'), 'utf8').startsWith('ref_id,sent_id,category,sentence,I,U,IoU'));
  assert.ok(readdirSync(path.join(dir, 'preds')).length > 0);
  assert.ok(existsSync(path.join(dir, 'gallery.html')));
  const swap = await runEval({ target: r.runDir, split: 'val', textAblation: 'swap', gallery: 0, quiet: true }) as Record<string, unknown>;
  assert.is(swap.text_ablation, 'swap');
  try {
    await runEval({ target: r.runDir, split: 'val', gallery: 0, quiet: true });
    assert.unreachable('overwrote eval results without --force');
  } catch (e) {
    assert.match((e as Error).message, /already holds results; pass --force/);
  }
  await runEval({ target: r.runDir, split: 'val', gallery: 0, quiet: true, force: true });

  const data = path.join(tmp, 'syn');
  const img = readdirSync(data, { recursive: true }).map(String).find((f) => f.endsWith('.jpg'))!;
  const out = path.join(tmp, 'mask.png');
  await runPredict({ target: r.runDir, image: path.join(data, img), text: 'the red vehicle on the left', out, overlay: path.join(tmp, 'overlay.png') });
  assert.equal([...readFileSync(out).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.ok(existsSync(path.join(tmp, 'overlay.png')));
  F.shutdown();
});

test('a NaN/Inf loss stops the run with a clear message and keeps the last good checkpoint', async () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'fianet-nan-'));
  try {
    await train({
      config: 'configs/synthetic/fianet-tiny.yaml', quiet: true, experiments: path.join(tmp, 'exp'),
      overrides: ['data.synthetic.n=40', 'data.synthetic.size=64', `data.synthetic.dir=${path.join(tmp, 'syn')}`, 'data.image_size=64',
        'data.text_length=12', 'train.epochs=40', 'train.lr=1e12', 'train.test_at_end=false'],
    });
    assert.unreachable('a learning rate of 1e12 did not diverge');
  } catch (e) {
    assert.match((e as Error).message, /training diverged at step \d+ \(loss (NaN|Infinity|-Infinity)\); (the last good checkpoint is .*last\.safetensors|no checkpoint was saved before this)/);
  }
  F.shutdown();
});

test.run();
