// FIANet's parameter groups (FIANET.md §10): backbone norms and relative-position tables without weight decay,
// the rest of the backbone (FIAM and TMEM included) and the decoder with decay, and BERT's encoder layers listed in
// train.bert_train_layers with decay. BERT's embeddings and other layers are in no group: they receive gradients
// (backprop passes through them) but are never stepped. Every group uses the same learning rate.
import type { Tensor } from '../tensor/tensor.ts';
import type { ParamGroup } from '../optim/optimizer.ts';
import type { FIANet } from '../models/fianet/model.ts';
import type { FianetConfig } from '../config/fianet.ts';

const NO_DECAY = ['norm', 'absolute_pos_embed', 'relative_position_bias_table'];

export function fianetParamGroups(model: FIANet, cfg: FianetConfig): { groups: ParamGroup[]; names: string[][]; frozen: string[] } {
  const buckets: [string, Tensor][][] = [[], [], [], []];
  const frozen: string[] = [];
  const bertLayers = new Set(cfg.train.bert_train_layers);
  for (const [name, p] of model.namedParameters()) {
    if (name.startsWith('backbone.')) {
      buckets[NO_DECAY.some((s) => name.includes(s)) ? 0 : 1]!.push([name, p]);
    } else if (name.startsWith('classifier.')) {
      buckets[2]!.push([name, p]);
    } else {
      const m = /^text_encoder\.encoder\.layer\.(\d+)\./.exec(name);
      const emb = cfg.train.bert_train_embeddings && name.startsWith('text_encoder.embeddings.');
      if ((m && bertLayers.has(Number(m[1]))) || emb) buckets[emb && name.includes('LayerNorm') ? 0 : 3]!.push([name, p]);
      else frozen.push(name);
    }
  }
  const wd = [0, cfg.train.weight_decay, cfg.train.weight_decay, cfg.train.weight_decay];
  const keep = buckets.map((b, i) => [b, wd[i]!] as const).filter(([b]) => b.length > 0);
  return {
    groups: keep.map(([b, w]) => ({ params: b.map(([, p]) => p), lr: cfg.train.lr, weightDecay: w })),
    names: keep.map(([b]) => b.map(([n]) => n)),
    frozen,
  };
}
