// `fianet summary CONFIG`: parameters per module, the total, and the forward GMAC at the configured size.
import { loadFianetConfig } from '../config/index.ts';
import { FIANet } from '../models/fianet/model.ts';
import { forwardMacs, parameterTable } from '../models/fianet/summary.ts';

export function printSummary(file: string, overrides: string[], depth: number): void {
  const cfg = loadFianetConfig(file, overrides);
  const model = new FIANet(cfg.model, { device: 'cpu', skipInit: true });
  const rows = parameterTable(model, depth);
  const width = Math.max(...rows.map(([k]) => k.length), 10);
  console.log(`${cfg.name}: FIANet, Swin widths ${model.backbone.widths.join('/')}, BERT ${cfg.model.text.num_layers}x${cfg.model.text.hidden_size}, num_tmem ${cfg.model.num_tmem}`);
  for (const [k, n] of rows) console.log(`  ${k.padEnd(width)} ${n.toLocaleString('en-US').padStart(14)}`);
  console.log(`  ${'total'.padEnd(width)} ${model.numParameters().toLocaleString('en-US').padStart(14)}  (${model.stateDict().size} state-dict entries)`);
  const m = forwardMacs(cfg);
  const g = (v: number) => (v / 1e9).toFixed(2);
  console.log(`forward at ${cfg.data.image_size}x${cfg.data.image_size}, L=${cfg.data.text_length}, batch 1: ${g(m.total)} GMAC ` +
    `(BERT x3 ${g(m.bert)}, Swin ${g(m.swin)}, FIAM ${g(m.fiam)}, TMEM ${g(m.tmem)}, decoder ${g(m.decoder)})`);
  model.dispose();
}
