// The fianet command line. Each command lives in src/cli/<name>.ts and is loaded on demand.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as F from './index.ts';

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
      .option('json', { type: 'boolean', default: false }),
  async (a) => {
    const { runBench } = await import('./cli/bench.ts');
    await withDevice((d) => runBench(a.only ? a.only.split(',') : null, a.json, d));
  })
  .command('synth', 'write a synthetic dataset in the exact on-disk format of RRSIS-D or RefSegRS', (y) =>
    y.option('format', { choices: ['rrsisd', 'refsegrs'] as const, demandOption: true })
      .option('out', { type: 'string', demandOption: true })
      .option('n', { type: 'number', default: 600 })
      .option('size', { type: 'number' })
      .option('seed', { type: 'number', default: 0 }),
  async (a) => {
    const { generateSynthetic } = await import('./data/synth/index.ts');
    const s = await generateSynthetic({ format: a.format, out: a.out, n: a.n, size: a.size, seed: a.seed });
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
  .command('demo', 'the engine demo until the FIANet-tiny demo lands: train an MLP on two spirals', (y) =>
    y.option('steps', { type: 'number', default: 400 }),
  async (a) => {
    const { spiralDemo } = await import('./cli/demo.ts');
    await withDevice((d) => spiralDemo(d, a.steps));
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
