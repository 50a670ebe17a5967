// The fianet command line. Each command lives in src/cli/<name>.ts and is loaded on demand.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as F from './index.ts';
import type { AttributeKind } from './data/synth/rrsisd-scene.ts';

async function withDevice<T>(fn: (d: F.DeviceName) => Promise<T>): Promise<T> {
  const d = await F.initDevice();
  try {
    return await fn(d);
  } finally {
    F.shutdown();
  }
}

await yargs(hideBin(process.argv))
  .scriptName('fianet')
  .command('doctor', 'adapter, limits, kernel variants and a self-test; or check a dataset with --data', (y) =>
    y.option('data', { type: 'string', describe: 'dataset root to check' })
      .option('dataset', { choices: ['rrsisd', 'refsegrs'] as const, describe: 'dataset format of --data' }),
  async (a) => {
    if (a.data) {
      if (!a.dataset) throw new Error('doctor --data needs --dataset rrsisd|refsegrs');
      const { doctorData } = await import('./cli/doctor.ts');
      process.exitCode = await doctorData(a.data, a.dataset);
      return;
    }
    const { doctorEngine } = await import('./cli/doctor.ts');
    process.exitCode = await doctorEngine();
    F.shutdown();
  })
  .command('bench', 'run the benchmark suite (one JSON object per line with --json)', (y) =>
    y.option('only', { type: 'string', describe: 'comma-separated benchmark names' })
      .option('json', { type: 'boolean', default: false })
      .option('all', { type: 'boolean', default: false, describe: 'include the paper-size model benchmarks (minutes on lavapipe)' })
      .option('rounds', { type: 'number', default: 1, describe: 'run the selection N times, interleaved, and report each benchmark\'s median round with ms_min/ms_max (for noisy machines)' }),
  async (a) => {
    const { runBench } = await import('./cli/bench.ts');
    await withDevice((d) => runBench(a.only ? a.only.split(',') : null, a.json, d, a.all, a.rounds));
  })
  .command('synth', 'write a synthetic dataset in the exact on-disk format of RRSIS-D or RefSegRS', (y) =>
    y.option('format', { choices: ['rrsisd', 'refsegrs'] as const, demandOption: true })
      .option('out', { type: 'string', demandOption: true })
      .option('n', { type: 'number', default: 600 })
      .option('size', { type: 'number' })
      .option('seed', { type: 'number', default: 0 })
      .option('object-scale', { type: 'number', default: 1, describe: 'rrsisd: object size multiplier, capped to fit a cell' })
      .option('max-distractors', { type: 'number', default: 3, describe: 'rrsisd: most same-category distractors per scene (0-3)' })
      .option('attributes', { type: 'string', default: 'color,size,position,relation', describe: 'rrsisd: attribute kinds expressions may use beside the category' }),
  async (a) => {
    const { generateSynthetic } = await import('./data/synth/index.ts');
    const s = await generateSynthetic({ format: a.format, out: a.out, n: a.n, size: a.size, seed: a.seed, scene: { objectScale: a.objectScale, maxDistractors: a.maxDistractors, attributes: a.attributes.split(',').map((x) => x.trim()) as AttributeKind[] } });
    console.log(JSON.stringify({ root: s.root, counts: s.counts, ms: Math.round(s.ms) }));
  })
  .command('config <action> [file]', 'print the resolved config (action: print) or the documented schema (action: docs)', (y) =>
    y.positional('action', { choices: ['print', 'docs'] as const, demandOption: true })
      .positional('file', { type: 'string', describe: 'config YAML' })
      .option('set', { type: 'string', array: true, default: [] as string[], describe: 'dotted override key.path=value (repeatable)' }),
  async (a) => {
    const { printConfig, printConfigDocs } = await import('./cli/config.ts');
    if (a.action === 'docs') return printConfigDocs();
    if (!a.file) throw new Error('config print needs a config file');
    printConfig(a.file, a.set.map(String));
  })
  .command('train [config]', 'train from a config into experiments/<config>/<time>-<gitsha>/', (y) =>
    y.positional('config', { type: 'string', describe: 'config YAML' })
      .option('set', { type: 'string', array: true, default: [] as string[], describe: 'dotted override key.path=value (repeatable)' })
      .option('resume', { type: 'string', describe: 'run folder to resume (its config is used)' })
      .option('experiments', { type: 'string', default: 'experiments' }),
  async (a) => {
    if (!a.config && !a.resume) throw new Error('train needs a config file or --resume RUN_DIR');
    const { train } = await import('./train/trainer.ts');
    const r = await train({ config: a.config, overrides: a.set.map(String), resume: a.resume, experiments: a.experiments });
    console.log(`run folder: ${r.runDir}`);
    F.shutdown();
  })
  .command('eval <target>', 'evaluate a run folder (its best checkpoint) or a checkpoint inside one', (y) =>
    y.positional('target', { type: 'string', demandOption: true })
      .option('split', { choices: ['val', 'test'] as const, default: 'test' as const })
      .option('checkpoint', { choices: ['best', 'last'] as const, default: 'best' as const })
      .option('save-preds', { type: 'boolean', default: false })
      .option('text-ablation', { choices: ['none', 'swap'] as const, default: 'none' as const })
      .option('gallery', { type: 'number', default: 4, describe: 'best and worst k per category (0: none)' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite existing results in the run folder' }),
  async (a) => {
    const { runEval } = await import('./cli/eval.ts');
    await runEval({ target: a.target!, split: a.split, checkpoint: a.checkpoint, savePreds: a['save-preds'], textAblation: a['text-ablation'], gallery: a.gallery, force: a.force });
    F.shutdown();
  })
  .command('predict <target>', 'segment the object an expression refers to in one image', (y) =>
    y.positional('target', { type: 'string', demandOption: true, describe: 'run folder or checkpoint' })
      .option('image', { type: 'string', demandOption: true })
      .option('text', { type: 'string', demandOption: true })
      .option('out', { type: 'string', demandOption: true })
      .option('overlay', { type: 'string' }),
  async (a) => {
    const { runPredict } = await import('./cli/predict.ts');
    await runPredict({ target: a.target!, image: a.image, text: a.text, out: a.out, overlay: a.overlay });
    F.shutdown();
  })
  .command('sweep <manifest>', 'run a sweep manifest (configs x seeds, finished runs skipped) and write results.csv and results.md', (y) =>
    y.positional('manifest', { type: 'string', demandOption: true })
      .option('seeds', { type: 'number' })
      .option('dry-run', { type: 'boolean', default: false })
      .option('set', { type: 'string', array: true, default: [] as string[] })
      .option('experiments', { type: 'string', default: 'experiments' }),
  async (a) => {
    const { cliSweep } = await import('./train/sweep.ts');
    process.exitCode = await cliSweep(a.manifest!, { seeds: a.seeds, dryRun: a['dry-run'], extraOverrides: a.set.map(String), experiments: a.experiments });
    F.shutdown();
  })
  .command('plot <runs..>', 'SVG and PNG curves of loss, lr and validation metrics, several runs overlaid', (y) =>
    y.positional('runs', { type: 'string', array: true, demandOption: true }).option('out', { type: 'string' }),
  async (a) => {
    const { cliPlot } = await import('./train/plot.ts');
    await cliPlot(a.runs as string[], { out: a.out });
  })
  .command('report <run>', 'a one-page summary of a run: hashes, env, best epoch, metrics, speed, memory', (y) =>
    y.positional('run', { type: 'string', demandOption: true }).option('out', { type: 'string' }),
  async (a) => {
    const { cliReport } = await import('./train/report.ts');
    await cliReport(a.run!, { out: a.out });
  })
  .command('summary <config>', 'parameters per module, total, and forward GMAC of a model config', (y) =>
    y.positional('config', { type: 'string', demandOption: true })
      .option('set', { type: 'string', array: true, default: [] as string[] })
      .option('depth', { type: 'number', default: 3, describe: 'key depth of the parameter groups' }),
  async (a) => {
    const { printSummary } = await import('./cli/summary.ts');
    printSummary(a.config!, a.set.map(String), a.depth);
  })
  .command('convert <input> <output>', 'convert .pth/.bin/.safetensors weights to our safetensors (key mapping by content, never by file name)', (y) =>
    y.positional('input', { type: 'string', demandOption: true })
      .positional('output', { type: 'string', demandOption: true })
      .option('kind', { choices: ['auto', 'swin', 'bert', 'fianet', 'raw'] as const, default: 'auto' as const })
      .option('config', { type: 'string', describe: 'model config JSON to store in the metadata' })
      .option('key', { type: 'string', describe: 'where the state dict sits in a checkpoint (model, state_dict, ...)' }),
  async (a) => {
    const { convert } = await import('./cli/convert.ts');
    await convert(a.input!, a.output!, { kind: a.kind, config: a.config, key: a.key });
  })
  .command('demo', 'train fianet-tiny on the built-in synthetic dataset, evaluate it (also with swapped expressions), write predictions', (y) =>
    y.option('config', { type: 'string', default: 'configs/synthetic/fianet-tiny.yaml' })
      .option('set', { type: 'string', array: true, default: [] as string[] })
      .option('experiments', { type: 'string', default: 'experiments' })
      .option('spirals', { type: 'boolean', default: false, describe: 'the engine-only demo: an MLP on two spirals' }),
  async (a) => {
    if (a.spirals) {
      const { spiralDemo } = await import('./cli/spirals.ts');
      await withDevice((d) => spiralDemo(d, 400));
      return;
    }
    const { runDemo } = await import('./cli/demo.ts');
    await runDemo({ config: a.config, overrides: a.set.map(String), experiments: a.experiments });
  })
  .demandCommand(1, 'name a command: doctor, bench, synth, config, convert or demo')
  .strict()
  .fail((msg, err) => {
    console.error(`fianet: ${err?.message ?? msg}`);
    F.shutdown();
    process.exit(2);
  })
  .help()
  .parseAsync();
