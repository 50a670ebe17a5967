import type { AttributeKind } from '../data/synth/rrsisd-scene.ts';
// The typed FIANet experiment config. Defaults are the paper settings on RRSIS-D (FIANET.md §10); the shipped
// YAML files under configs/ only state what differs. Every ablation switch is a field (FIANET.md §16).
import type { Schema } from './schema.ts';

const int = (d: number, doc: string, min = 0) => ({ type: 'int' as const, default: d, min, doc });
const num = (d: number, doc: string, min?: number) => ({ type: 'number' as const, default: d, min, doc });
const bool = (d: boolean, doc: string) => ({ type: 'boolean' as const, default: d, doc });
const intList = (d: number[], doc: string) => ({ type: 'list' as const, item: { type: 'int' as const, min: 0, doc: '' }, default: d, doc });
const numList = (d: number[], doc: string, length?: number) => ({ type: 'list' as const, item: { type: 'number' as const, doc: '' }, default: d, length, doc });
const path = (doc: string) => ({ type: 'string' as const, default: null, nullable: true, doc });

export const MODEL_SCHEMA: Schema = {
  backbone: {
    type: 'object', doc: 'Swin Transformer', fields: {
      embed_dim: int(128, 'C of stage 1 (Swin-B: 128)', 1),
      depths: intList([2, 2, 18, 2], 'blocks per stage'),
      num_heads: intList([4, 8, 16, 32], 'attention heads per stage'),
      window_size: int(12, 'window size (explicit: never inferred from a file name)', 1),
      patch_size: int(4, 'patch embedding kernel and stride', 1),
      mlp_ratio: num(4, 'MLP hidden / C', 0),
      drop_path_rate: num(0.3, 'stochastic depth, rising linearly over all blocks to this value', 0),
      ape: bool(false, 'absolute position embedding after the patch embedding (Swin\'s ape; off in FIANet)'),
    },
  },
  text: {
    type: 'object', doc: 'BERT text encoder', fields: {
      vocab_size: int(30522, 'WordPiece vocabulary size', 1),
      hidden_size: int(768, 'hidden width', 1),
      num_layers: int(12, 'encoder layers', 1),
      num_heads: int(12, 'attention heads', 1),
      intermediate_size: int(3072, 'FFN width', 1),
      max_position: int(512, 'position embeddings', 1),
      layer_norm_eps: num(1e-12, 'LayerNorm eps', 0),
      dropout: num(0.1, 'dropout on embeddings, attention probabilities and hidden states (active in training)', 0),
    },
  },
  num_tmem: int(3, 'TMEM blocks (RRSIS-D 3, RefSegRS 1); 0 keeps only the pooling and gates'),
  fusion_heads: intList([1, 1, 1, 1], 'SILA heads per stage (--mha)'),
  fusion_drop: num(0, 'dropout inside PWAM', 0),
  decoder_hidden: int(512, 'SimpleDecoding width', 1),
  ablation: {
    type: 'object', doc: 'alignment switches (FIANET.md §16)', fields: {
      context: bool(true, 'context alignment term g_C * R in the stage update'),
      context_off_feature: { type: 'enum', choices: ['fused', 'visual'], default: 'fused', doc: 'what norm_i reads when context is off: the fused X\' or the visual X' },
      object: bool(true, 'ground-object branch of OPAB'),
      spatial: bool(true, 'spatial-position branch of OPAB (off: M = 1)'),
      opab: bool(true, 'the whole object/position block'),
      channel_modulation: bool(true, 'SE-style channel gate s (off: s = 1)'),
      tmem: bool(true, 'TMEM (off: the decoder reads out_1..4 directly)'),
    },
  },
};

export const DATA_SCHEMA: Schema = {
  dataset: { type: 'enum', choices: ['rrsisd', 'refsegrs'], default: 'rrsisd', doc: 'on-disk format' },
  root: path('dataset root; null with synthetic set generates the synthetic dataset'),
  synthetic: {
    type: 'object', doc: 'built-in synthetic dataset (used when root is null)', fields: {
      n: int(600, 'number of targets', 1),
      size: int(128, 'image side in pixels', 16),
      seed: int(0, 'generator seed'),
      object_scale: num(1, 'object size multiplier, capped to fit a 3x3 cell (rrsisd only; >1 for low-resolution runs)', 0),
      max_distractors: int(3, 'most same-category distractors per scene, 0-3 (rrsisd only; fewer need fewer spatial words)', 0),
      attributes: {
        type: 'list', item: { type: 'enum', choices: ['color', 'size', 'position', 'relation'], doc: '' },
        default: ['color', 'size', 'position', 'relation'],
        doc: 'attribute kinds expressions may use beside the category (rrsisd only)',
      },
      dir: { type: 'string', default: '.cache/synthetic', doc: 'where it is generated (once, then reused)' },
    },
  },
  image_size: int(480, 'network input side', 16),
  text_length: int(22, 'L: BERT tokens incl. [CLS]/[SEP] (RRSIS-D 22, RefSegRS 20)', 2),
  phrase_mode: { type: 'enum', choices: ['official', 'aligned'], default: 'official', doc: 'object/spatial word masks: the reference rules, or mapped onto the right WordPiece positions' },
  box_masking: bool(true, 'RRSIS-D random black boxes on 20% of training refs'),
  vocab: path('bert-base-uncased vocab.txt; null uses the built-in vocabulary'),
  prefetch: int(2, 'batches decoded ahead'),
};

export const TRAIN_SCHEMA: Schema = {
  epochs: int(40, 'epochs (RRSIS-D 40, RefSegRS 60)', 1),
  batch_size: int(8, 'samples per optimizer step', 1),
  grad_accum: int(1, 'micro-batches per step (batch_size must divide by it)', 1),
  lr: num(3e-5, 'base learning rate (RRSIS-D 3e-5, RefSegRS 5e-5)', 0),
  weight_decay: num(0.01, 'AdamW decoupled weight decay (norms, position tables get 0)', 0),
  betas: numList([0.9, 0.999], 'AdamW betas', 2),
  eps: num(1e-8, 'AdamW eps', 0),
  poly_power: num(0.9, 'poly schedule power, stepped per iteration', 0),
  bert_train_layers: intList([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'BERT encoder layers the optimizer updates'),
  bert_train_embeddings: bool(false, 'also update BERT\'s embeddings (the official recipe never steps them; a BERT trained from scratch needs them)'),
  ce_weights: numList([0.9, 1.1], 'cross-entropy class weights [background, object]', 2),
  ce_coef: num(0.9, 'weight of the cross-entropy term', 0),
  dice_coef: num(0.1, 'weight of the summed Dice term', 0),
  seed: int(2401, 'seed for initialization, data order and dropout'),
  val_every: int(1, 'validate every N epochs', 1),
  select_on: { type: 'enum', choices: ['val', 'test'], default: 'val', doc: 'split that chooses the best checkpoint (the official code used test)' },
  test_at_end: bool(true, 'evaluate the best checkpoint on test when training ends'),
  log_every: int(10, 'iterations between log lines', 1),
  max_steps: { type: 'int', default: null, nullable: true, min: 1, doc: 'stop after this many optimizer steps (smoke tests)' },
};

export const WEIGHTS_SCHEMA: Schema = {
  swin: path('Swin pretrained file, e.g. swin_base_patch4_window12_384_22k.pth'),
  bert: path('bert-base-uncased folder or weights file'),
  init: path('a full FIANet checkpoint to start from'),
};

export const EVAL_SCHEMA: Schema = {
  protocol: { type: 'enum', choices: ['network', 'original'], default: 'network', doc: 'score at the network size (official) or at the original resolution' },
  thresholds: numList([0.5, 0.6, 0.7, 0.8, 0.9], 'Pr@X thresholds (inclusive)'),
};

export const CONFIG_SCHEMA: Schema = {
  name: { type: 'string', default: null, nullable: true, doc: 'run name (default: the config file name)' },
  device: { type: 'enum', choices: ['auto', 'cpu', 'webgpu'], default: 'auto', doc: 'compute device' },
  model: { type: 'object', fields: MODEL_SCHEMA, doc: 'architecture' },
  data: { type: 'object', fields: DATA_SCHEMA, doc: 'dataset and preprocessing' },
  train: { type: 'object', fields: TRAIN_SCHEMA, doc: 'optimization recipe' },
  weights: { type: 'object', fields: WEIGHTS_SCHEMA, doc: 'pretrained weights' },
  eval: { type: 'object', fields: EVAL_SCHEMA, doc: 'evaluation protocol' },
};

export interface FianetConfig {
  name: string | null;
  device: 'auto' | 'cpu' | 'webgpu';
  model: {
    backbone: { embed_dim: number; depths: number[]; num_heads: number[]; window_size: number; patch_size: number; mlp_ratio: number; drop_path_rate: number; ape: boolean };
    text: { vocab_size: number; hidden_size: number; num_layers: number; num_heads: number; intermediate_size: number; max_position: number; layer_norm_eps: number; dropout: number };
    num_tmem: number;
    fusion_heads: number[];
    fusion_drop: number;
    decoder_hidden: number;
    ablation: { context: boolean; context_off_feature: 'fused' | 'visual'; object: boolean; spatial: boolean; opab: boolean; channel_modulation: boolean; tmem: boolean };
  };
  data: {
    dataset: 'rrsisd' | 'refsegrs'; root: string | null;
    synthetic: { n: number; size: number; seed: number; object_scale: number; max_distractors: number; attributes: AttributeKind[]; dir: string };
    image_size: number; text_length: number; phrase_mode: 'official' | 'aligned'; box_masking: boolean; vocab: string | null; prefetch: number;
  };
  train: {
    epochs: number; batch_size: number; grad_accum: number; lr: number; weight_decay: number; betas: number[]; eps: number; poly_power: number;
    bert_train_layers: number[]; bert_train_embeddings: boolean; ce_weights: number[]; ce_coef: number; dice_coef: number; seed: number; val_every: number;
    select_on: 'val' | 'test'; test_at_end: boolean; log_every: number; max_steps: number | null;
  };
  weights: { swin: string | null; bert: string | null; init: string | null };
  eval: { protocol: 'network' | 'original'; thresholds: number[] };
}

/** Cross-field checks the per-field schema cannot express. */
export function checkConfig(c: FianetConfig, file?: string): void {
  const where = file ? `${file}: ` : '';
  const b = c.model.backbone;
  if (b.depths.length !== b.num_heads.length) throw new Error(`${where}model.backbone: depths has ${b.depths.length} stages but num_heads ${b.num_heads.length}`);
  b.num_heads.forEach((h, i) => {
    const width = b.embed_dim * 2 ** i;
    if (width % h) throw new Error(`${where}model.backbone.num_heads[${i}]: ${h} heads do not divide the stage width ${width}`);
  });
  if (c.model.text.hidden_size % c.model.text.num_heads) throw new Error(`${where}model.text: ${c.model.text.num_heads} heads do not divide hidden_size ${c.model.text.hidden_size}`);
  if (c.data.text_length > c.model.text.max_position) throw new Error(`${where}data.text_length ${c.data.text_length} exceeds model.text.max_position ${c.model.text.max_position}`);
  if (c.train.batch_size % c.train.grad_accum) throw new Error(`${where}train.grad_accum ${c.train.grad_accum} must divide train.batch_size ${c.train.batch_size}`);
  if (c.model.fusion_heads.length !== b.depths.length) throw new Error(`${where}model.fusion_heads: one entry per stage (${b.depths.length}), found ${c.model.fusion_heads.length}`);
  for (const l of c.train.bert_train_layers) if (l >= c.model.text.num_layers) throw new Error(`${where}train.bert_train_layers: layer ${l} does not exist (model.text.num_layers = ${c.model.text.num_layers})`);
}
