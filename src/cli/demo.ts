// The README's first command: generate the synthetic dataset if missing, train fianet-tiny on it, evaluate on val
// and with the text-swap ablation, write predictions and the gallery, and print where everything is.
import path from 'node:path';
import * as F from '../index.ts';
import { train } from '../train/trainer.ts';
import { runEval } from './eval.ts';

export async function runDemo(o: { config: string; overrides: string[]; experiments: string }): Promise<void> {
  const t0 = performance.now();
  const r = await train({ config: o.config, overrides: o.overrides, experiments: o.experiments });
  const val = await runEval({ target: r.runDir, split: 'val', savePreds: true, gallery: 3 }) as { mIoU: number; oIoU: number };
  const swap = await runEval({ target: r.runDir, split: 'val', textAblation: 'swap', gallery: 0 }) as { mIoU: number; oIoU: number };
  F.shutdown();
  const minutes = (performance.now() - t0) / 60000;
  console.log('');
  console.log(`demo finished in ${minutes.toFixed(1)} min`);
  console.log(`  val mIoU ${val.mIoU.toFixed(2)} (oIoU ${val.oIoU.toFixed(2)}); with expressions swapped between targets: mIoU ${swap.mIoU.toFixed(2)} ` +
    `(${val.mIoU > 0 ? (100 * (1 - swap.mIoU / val.mIoU)).toFixed(0) : '-'}% lower)`);
  console.log(`  run folder      ${r.runDir}`);
  console.log(`  checkpoints     ${path.join(r.runDir, 'checkpoints')}`);
  console.log(`  metrics         ${path.join(r.runDir, 'eval', 'val', 'metrics.json')}, ${path.join(r.runDir, 'eval', 'val-textswap', 'metrics.json')}`);
  console.log(`  predictions     ${path.join(r.runDir, 'eval', 'val', 'preds')}`);
  console.log(`  gallery         ${path.join(r.runDir, 'eval', 'val', 'gallery.html')}`);
  console.log(`  training curves ${path.join(r.runDir, 'metrics.csv')}`);
}
