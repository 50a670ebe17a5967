// fianet sweep / plot / report. Fake run folders carry the reporting tests; one small real sweep (2 rows x 1 seed of
// fianet-tiny on 40 synthetic samples at 64 px, one epoch) runs twice to show the second call trains nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as F from '../../src/index.ts';
import { dumpConfig, loadFianetConfig } from '../../src/config/index.ts';
import { meanStd, metricValue, resultsCsv, resultsMarkdown, runSweep, rowSlug, type SweepRun } from '../../src/train/sweep.ts';
import { niceTicks, plotRuns, runLabels, smooth, expandRunDirs, tickLabels } from '../../src/train/plot.ts';
import { dataRoot, configHash, dataHash, report, trainingSeconds } from '../../src/train/report.ts';

const TINY = 'configs/synthetic/fianet-tiny.yaml';
const tmp = () => mkdtempSync(path.join(tmpdir(), 'fianet-tools-'));

interface FakeOpts { overrides?: string[]; epochsDone?: number; steps?: number; lossScale?: number; evalTest?: boolean }

/** A run folder as the trainer leaves it, with fabricated numbers. */
function fakeRun(runDir: string, o: FakeOpts = {}): void {
  mkdirSync(path.join(runDir, 'checkpoints'), { recursive: true });
  const cfg = loadFianetConfig(TINY, o.overrides ?? []);
  writeFileSync(path.join(runDir, 'config.yaml'), dumpConfig(cfg));
  writeFileSync(path.join(runDir, 'env.json'), JSON.stringify({
    node: 'v20.99.0', platform: 'linux-x64', git: { sha: 'abcdef12', dirty: true, branch: 'main' },
    adapter: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'lavapipe', variant: 'subgroup', subgroupSize: 8 },
    startedAt: '2026-11-27T10:00:00.000Z',
  }));
  const epochs = o.epochsDone ?? cfg.train.epochs;
  const steps = o.steps ?? 5;
  const lines: string[] = [];
  let step = 0;
  for (let e = 1; e <= epochs; e++) {
    for (let k = 0; k < steps; k++) {
      step++;
      lines.push(JSON.stringify({ type: 'train', epoch: e, step, loss: (o.lossScale ?? 1) * (2 / step + 0.05 * Math.sin(step)), ce: 0.5, dice: 0.5, lr: 1e-3 * (1 - step / (epochs * steps + 1)) ** 0.9,
        images_per_s: 10 + (step % 3), ms_fwd_bwd: 700 + step, ms_step: 800 + step, dispatches_per_step: 900, peak_mib: 100 + step }));
    }
    lines.push(JSON.stringify({ type: 'val', epoch: e, step, oIoU: 20 + 5 * e, mIoU: 18 + 4 * e, 'Pr@0.5': 10 * e, 'Pr@0.6': 8 * e, 'Pr@0.7': 6 * e, 'Pr@0.8': 4 * e, 'Pr@0.9': 2 * e, images_per_s: 30 }));
  }
  writeFileSync(path.join(runDir, 'metrics.jsonl'), lines.join('\n') + '\n');
  writeFileSync(path.join(runDir, 'train.log'), [
    '2026-11-27T10:00:00.000Z starting synthetic/fianet-tiny in x on webgpu',
    '2026-11-27T10:01:40.000Z epoch 1 done in 100.0 s',
    '2026-11-27T10:02:00.000Z stopping after epoch 1 as asked',
    '2026-11-27T12:00:00.000Z resuming synthetic/fianet-tiny in x on webgpu',
    '2026-11-27T12:00:30.500Z epoch 2 done',
  ].join('\n') + '\n');
  const best = { metric: 'oIoU', value: 20 + 5 * epochs, epoch: epochs, split: 'val' };
  writeFileSync(path.join(runDir, 'checkpoints', 'last.state.json'), JSON.stringify({ epoch: epochs - 1, step, best }));
  if (o.evalTest !== false) {
    mkdirSync(path.join(runDir, 'eval', 'test'), { recursive: true });
    writeFileSync(path.join(runDir, 'eval', 'test', 'metrics.json'), JSON.stringify({
      split: 'test', checkpoint: 'best', count: 12, oIoU: 41.25, mIoU: 39.5, precision: { '0.5': 50, '0.6': 40, '0.7': 30, '0.8': 20, '0.9': 10 },
    }));
  }
}

test('mean ± sample std, metric lookup, CSV and the paper-style markdown table', () => {
  assert.equal(meanStd([]), null);
  assert.equal(meanStd([3]), { mean: 3, std: null });
  const s = meanStd([70, 72, 74])!;
  assert.is(s.mean, 72);
  assert.is(s.std, 2); // sample std (n - 1): sqrt((4 + 0 + 4) / 2)
  assert.is(metricValue({ oIoU: 1.5, precision: { '0.5': 9 } }, 'Pr@0.5'), 9);
  assert.is(metricValue({ oIoU: 1.5 }, 'oIoU'), 1.5);
  assert.is(metricValue({ oIoU: 1.5 }, 'Pr@0.9'), null);
  assert.is(rowSlug('w/o TMEM'), 'w-o-tmem');

  const rows = [{ name: 'FIANet (full)', config: 'a', set: [] }, { name: 'w/o TMEM', config: 'b', set: [] }, { name: 'never ran', config: 'c', set: [] }];
  const run = (row: string, seed: number, metrics: Record<string, number | null> | undefined): SweepRun =>
    ({ row, slug: rowSlug(row), seed, folder: 'f', runDir: `r/${row}/${seed}`, action: 'skip', status: metrics ? 'done' : 'failed', metrics });
  const runs = [
    run('FIANet (full)', 0, { oIoU: 70, 'Pr@0.5': 80 }), run('FIANet (full)', 1, { oIoU: 72, 'Pr@0.5': 81 }), run('FIANet (full)', 2, { oIoU: 74, 'Pr@0.5': 85 }),
    run('w/o TMEM', 0, { oIoU: 60, 'Pr@0.5': null }), run('w/o TMEM', 1, { oIoU: 61, 'Pr@0.5': null }), run('w/o TMEM', 2, undefined),
    run('never ran', 0, undefined),
  ];
  const md = resultsMarkdown({ title: 'Ablation (test)', split: 'test', metrics: ['Pr@0.5', 'oIoU'], rows }, 3, runs);
  const lines = md.split('\n');
  assert.is(lines[0], '### Ablation (test)');
  assert.is(lines[2], '| Method | Pr@0.5 | oIoU |');
  assert.is(lines[3], '|:--|--:|--:|');
  assert.is(lines[4], '| FIANet (full) | 82.00 ± 2.65 | 72.00 ± 2.00 |');
  assert.is(lines[5], '| w/o TMEM | — | 60.50 ± 0.71 (n=2) |');
  assert.is(lines[6], '| never ran | — | — |');
  assert.match(md, /evaluated on \*\*test\*\*; 3 seeds per row/);
  assert.match(md, /\(n=k\) marks rows where only k seeds finished/);

  const csv = resultsCsv(['Pr@0.5', 'oIoU'], runs).trim().split('\n');
  assert.is(csv[0], 'row,seed,run_dir,status,Pr@0.5,oIoU');
  assert.is(csv[1], 'FIANet (full),0,r/FIANet (full)/0,done,80,70');
  assert.is(csv[4], 'w/o TMEM,0,r/w/o TMEM/0,done,,60');
  assert.is(csv[7], 'never ran,0,r/never ran/0,failed,,');
});

test('sweep plan: finished runs are skipped, unfinished resumed, changed configs started afresh (dry run)', async () => {
  const dir = tmp();
  const manifest = path.join(dir, 'plan.yaml');
  writeFileSync(manifest, [
    'title: plan test', 'seeds: 2', 'split: test', 'metrics: [oIoU]', 'rows:',
    `  - {name: base, config: ${path.resolve(TINY)}}`,
    `  - {name: no tmem, config: ${path.resolve(TINY)}, set: [model.ablation.tmem=false]}`,
  ].join('\n'));
  const sweep = path.join(dir, 'exp', 'sweeps', 'plan');
  // base seed 0: finished; base seed 1: one of 8 epochs done; no-tmem seed 0: a run of another config.
  fakeRun(path.join(sweep, 'base', 'seed0', 'synthetic', 'fianet-tiny', '20261127-100000-x'), { overrides: ['train.seed=0'] });
  fakeRun(path.join(sweep, 'base', 'seed1', 'synthetic', 'fianet-tiny', '20261127-100000-x'), { overrides: ['train.seed=1'], epochsDone: 1 });
  fakeRun(path.join(sweep, 'no-tmem', 'seed0', 'synthetic', 'fianet-tiny', '20261127-100000-x'), { overrides: ['train.seed=0'] });
  const r = await runSweep(manifest, { experiments: path.join(dir, 'exp'), dryRun: true, quiet: true });
  assert.equal(r.runs.map((x) => `${x.slug}/${x.seed}:${x.action}`), ['base/0:skip', 'base/1:resume', 'no-tmem/0:start', 'no-tmem/1:start']);
  assert.match(r.runs[0]!.runDir!, /base\/seed0\/synthetic\/fianet-tiny\/20261127-100000-x$/);
  assert.equal(r.trained, []);
  assert.not.ok(existsSync(path.join(sweep, 'sweep.json')), 'a dry run writes nothing');
  // --seeds overrides the manifest.
  const one = await runSweep(manifest, { experiments: path.join(dir, 'exp'), dryRun: true, quiet: true, seeds: 1 });
  assert.is(one.runs.length, 2);
});

test('plot: loss, lr and validation charts of two runs as SVG and PNG', async () => {
  const dir = tmp();
  const a = path.join(dir, 'sweep', 'base', 'seed0', 'run1');
  const b = path.join(dir, 'sweep', 'no-tmem', 'seed0', 'run1');
  fakeRun(a, { epochsDone: 3 });
  fakeRun(b, { epochsDone: 2, lossScale: 1.5 });
  assert.equal(runLabels([a, b]), ['base', 'no-tmem'], 'shared seed0 and run folder names dropped');
  assert.equal(runLabels(['/e/sweeps/s/base/seed0/synthetic/tiny/2026-a', '/e/sweeps/s/base/seed1/synthetic/tiny/2026-b']), ['seed0', 'seed1']);
  assert.equal(runLabels(['/e/x/2026-a', '/e/x/2026-b']), ['2026-a', '2026-b']);
  assert.equal(tickLabels([0, 2e-4, 4e-4, 6e-4]), ['0', '2e-4', '4e-4', '6e-4']);
  assert.equal(tickLabels([0, 2, 4, 6, 8]), ['0', '2', '4', '6', '8']);
  assert.equal(tickLabels([0, 0.5, 1, 1.5]), ['0.0', '0.5', '1.0', '1.5']);
  assert.equal(expandRunDirs([path.join(dir, 'sweep')]).sort(), [a, b].sort());
  const files = await plotRuns([a, b], path.join(dir, 'out', 'cmp'));
  assert.is(files.length, 6);
  for (const name of ['loss', 'lr', 'val']) {
    const svg = readFileSync(path.join(dir, 'out', `cmp-${name}.svg`), 'utf8');
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"') && svg.trim().endsWith('</svg>'), name);
    assert.ok((svg.match(/<polyline /g) ?? []).length >= 2, `${name}: one line per run`);
    assert.match(svg, />base( oIoU)?</);
    assert.match(svg, />no-tmem( oIoU)?</);
    const png = readFileSync(path.join(dir, 'out', `cmp-${name}.png`));
    assert.equal([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${name}: PNG signature`);
    const meta = await sharp(png).metadata();
    assert.is(meta.format, 'png');
    assert.is(meta.width, 1440, 'rendered at 2x');
  }
  const loss = readFileSync(path.join(dir, 'out', 'cmp-loss.svg'), 'utf8');
  assert.match(loss, />step</);
  assert.match(loss, /stroke-opacity="0.25"/, 'raw loss drawn faint');
  assert.match(readFileSync(path.join(dir, 'out', 'cmp-val.svg'), 'utf8'), /stroke-dasharray/, 'mIoU dashed');
  // Helpers.
  assert.equal(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(niceTicks(3, 97, 5), [0, 20, 40, 60, 80, 100]);
  assert.is(smooth([4, 4, 4])[0], 4, 'debiased: the first point is not pulled to 0');
});

test('report: config and data hashes, env, best epoch and its split, metrics, efficiency, time', () => {
  const dir = tmp();
  const synth = path.join(dir, 'synthetic');
  const runDir = path.join(dir, 'exp', 'run');
  fakeRun(runDir, { overrides: [`data.synthetic.dir=${synth}`], epochsDone: 3 });
  // The synthetic root follows the config (data.synthetic.{n,size,seed}), as prepareData names it.
  const root = path.join(dataRoot(loadFianetConfig(TINY, [`data.synthetic.dir=${synth}`])), 'rrsisd');
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, 'refs(unc).p'), 'refs');
  writeFileSync(path.join(root, 'instances.json'), '{}');
  const text = report(runDir);
  const cfgSha = createHash('sha256').update(readFileSync(path.join(runDir, 'config.yaml'))).digest('hex').slice(0, 12);
  assert.is(configHash(runDir), cfgSha);
  assert.match(text, /# Run report: synthetic\/fianet-tiny/);
  assert.ok(text.includes(`resolved config sha256 \`${cfgSha}\``));
  const cfg = loadFianetConfig(TINY, [`data.synthetic.dir=${synth}`]);
  const h1 = dataHash(cfg).hash!;
  assert.match(h1, /^[0-9a-f]{12}$/);
  assert.ok(text.includes(`split files sha256 \`${h1}\` (refs(unc).p, instances.json)`));
  writeFileSync(path.join(root, 'instances.json'), '{"images": []}');
  assert.is.not(dataHash(cfg).hash, h1, 'the hash follows the annotation files');
  assert.match(text, /node v20\.99\.0 on linux-x64; git abcdef12 \(dirty\); adapter lavapipe \/ mesa \/ software \(subgroup kernels, subgroup 8\)/);
  assert.match(text, new RegExp(`3 of ${cfg.train.epochs} epochs done, 15 steps \\(unfinished`));
  assert.match(text, /best checkpoint: epoch 3, chosen on \*\*val\*\* by oIoU 35\.00/);
  assert.match(text, /val at the best epoch \(3\): oIoU 35\.00 · mIoU 30\.00 · Pr@0\.5 30\.00/);
  assert.match(text, /eval\/test \(best checkpoint, 12 samples\): oIoU 41\.25 · mIoU 39\.50 · Pr@0\.5 50\.00/);
  // Medians over steps 1..15: images/s 10 + step % 3 -> 11; ms_step 800 + step -> 808; peak is the running maximum.
  assert.match(text, /training: 11\.00 images\/s, 808\.00 ms per step \(forward \+ backward 708\.00 ms\), 900 dispatches per step \(medians over 15 logged steps\)/);
  assert.match(text, /peak device memory: 115\.0 MiB/);
  assert.match(text, /training time: 2 min 31 s over 2 sessions/);
  assert.equal(trainingSeconds('2026-01-01T00:00:00.000Z starting a\n2026-01-01T00:00:10.000Z x\n'), { seconds: 10, sessions: 1 });
  // A missing dataset is reported, not fatal.
  const other = path.join(dir, 'exp', 'run2');
  fakeRun(other, { overrides: [`data.synthetic.dir=${path.join(dir, 'nowhere')}`], evalTest: false });
  assert.match(report(other), /split files sha256 unavailable \(missing: /);
});

test('a real sweep: 2 rows x 1 seed of fianet-tiny; the second call trains nothing', async () => {
  const dir = tmp();
  const manifest = path.join(dir, 'smoke.yaml');
  writeFileSync(manifest, [
    'title: Smoke ablation (test)', 'seeds: 1', 'split: test', 'metrics: [Pr@0.5, oIoU, mIoU]', 'rows:',
    `  - {name: FIANet-tiny, config: ${path.resolve(TINY)}}`,
    `  - {name: w/o TMEM, config: ${path.resolve(TINY)}, set: [model.ablation.tmem=false]}`,
  ].join('\n'));
  const extraOverrides = ['data.synthetic.n=40', 'data.synthetic.size=64', `data.synthetic.dir=${path.join(dir, 'synthetic')}`,
    'data.image_size=64', 'data.text_length=12', 'train.epochs=1', 'train.test_at_end=false'];
  const o = { experiments: path.join(dir, 'exp'), extraOverrides, quiet: true };
  const first = await runSweep(manifest, o);
  assert.is(first.trained.length, 2);
  assert.equal(first.runs.map((r) => r.status), ['done', 'done']);
  for (const r of first.runs) assert.ok(existsSync(path.join(r.runDir!, 'eval', 'test', 'metrics.json')), 'evaluated on test');
  const logs = first.runs.map((r) => readFileSync(path.join(r.runDir!, 'train.log'), 'utf8'));
  const evalTimes = first.runs.map((r) => statSync(path.join(r.runDir!, 'eval', 'test', 'metrics.json')).mtimeMs);

  const second = await runSweep(manifest, o);
  assert.equal(second.trained, [], 'nothing trained the second time');
  assert.equal(second.runs.map((r) => r.action), ['skip', 'skip']);
  assert.equal(second.runs.map((r) => r.runDir), first.runs.map((r) => r.runDir));
  assert.equal(second.runs.map((r) => readFileSync(path.join(r.runDir!, 'train.log'), 'utf8')), logs);
  assert.equal(second.runs.map((r) => statSync(path.join(r.runDir!, 'eval', 'test', 'metrics.json')).mtimeMs), evalTimes, 'evaluations reused');
  assert.ok(existsSync(path.join(first.dir, 'curves-loss.svg')) && existsSync(path.join(first.dir, 'curves-val.png')), 'sweep curves');

  const csv = readFileSync(path.join(first.dir, 'results.csv'), 'utf8').trim().split('\n');
  assert.is(csv[0], 'row,seed,run_dir,status,Pr@0.5,oIoU,mIoU');
  assert.is(csv.length, 3);
  assert.match(csv[1]!, /^FIANet-tiny,0,.*fianet-tiny\/seed0\/.*,done,\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?$/);
  assert.match(csv[2]!, /^w\/o TMEM,0,.*w-o-tmem\/seed0\/.*,done,\d+(\.\d+)?,\d+(\.\d+)?,\d+(\.\d+)?$/);
  const md = readFileSync(path.join(first.dir, 'results.md'), 'utf8');
  assert.match(md, /^### Smoke ablation \(test\)\n\n\| Method \| Pr@0\.5 \| oIoU \| mIoU \|/);
  assert.match(md, /\| FIANet-tiny \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|/);
  assert.match(md, /\| w\/o TMEM \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|/);
  assert.match(md, /evaluated on \*\*test\*\*; 1 seed per row/);
  const state = JSON.parse(readFileSync(path.join(first.dir, 'sweep.json'), 'utf8')) as { runs: SweepRun[] };
  assert.equal(state.runs.map((r) => r.status), ['done', 'done']);
  F.shutdown();
});

test.run();
