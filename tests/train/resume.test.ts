// A run stopped after epoch 1 and resumed gives the same losses and the same final checkpoint as an uninterrupted
// run; a kill -9 during a checkpoint write leaves the previous checkpoint loadable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as F from '../../src/index.ts';
import { train } from '../../src/train/trainer.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';

const overrides = (cache: string) => [
  'data.synthetic.n=40', 'data.synthetic.size=64', `data.synthetic.dir=${cache}`, 'data.image_size=64', 'data.text_length=12',
  'train.epochs=2', 'train.log_every=1', 'train.test_at_end=false', 'model.text.vocab_size=30522',
];

const losses = (runDir: string) => readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l) as { type: string; step: number; loss: number }).filter((r) => r.type === 'train').map((r) => [r.step, r.loss]);

test('stop after epoch 1 + resume == uninterrupted run (losses and final checkpoint)', async () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'fianet-resume-'));
  const cache = path.join(tmp, 'synthetic');
  const common = { config: 'configs/synthetic/fianet-tiny.yaml', overrides: overrides(cache), experiments: path.join(tmp, 'exp'), quiet: true };
  const a = await train(common);
  const b0 = await train({ ...common, stopAfterEpochs: 1 });
  const b = await train({ resume: b0.runDir, quiet: true });
  assert.is(b.runDir, b0.runDir);
  assert.equal(losses(b.runDir), losses(a.runDir));
  assert.ok(losses(a.runDir).length >= 4, 'at least two steps per epoch');
  const ta = (await readSafetensors(path.join(a.runDir, 'checkpoints', 'last.safetensors'))).tensors;
  const tb = (await readSafetensors(path.join(b.runDir, 'checkpoints', 'last.safetensors'))).tensors;
  assert.equal([...ta.keys()], [...tb.keys()]);
  for (const [k, t] of ta) assert.equal(Array.from(tb.get(k)!.data), Array.from(t.data), k);
  F.shutdown();
});

test('kill -9 during checkpoint writes leaves the previous checkpoint loadable', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fianet-kill-'));
  const file = path.join(dir, 'last.safetensors');
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('tests/fixtures/train/checkpoint-writer.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let written = 0;
  child.stdout.on('data', (d: Buffer) => { written += String(d).split('\n').filter((l) => l.startsWith('saved')).length; });
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (written >= 2) {
        clearInterval(t);
        // Let the next write get under way, then kill without warning.
        setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 15);
      }
    }, 5);
  });
  await new Promise((r) => child.on('exit', r));
  assert.ok(existsSync(file), 'a checkpoint exists');
  const { tensors, metadata } = await readSafetensors(file);
  const v = Number(metadata.version);
  assert.ok(v >= 1, `version ${metadata.version}`);
  // Every tensor holds the value of the version the header names: no torn file.
  for (const [k, t] of tensors) assert.ok(Array.from(t.data).every((x) => x === v), `${k} is from version ${v}`);
});

test.run();
