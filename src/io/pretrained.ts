// Key mapping from external pretrained files to FIANet state-dict keys (FIANET.md §15.6).
//  * Swin (`swin_base_patch4_window12_384_22k.pth`, its `model` dict): X -> backbone.X for patch_embed.*,
//    layers.*.blocks.*.* and layers.*.downsample.*; norm.*, head.* and *.attn_mask are ignored (FIANet has its own
//    norm0-3, no classifier head, and computes the shift mask itself).
//  * HF BERT (`bert-base-uncased` pytorch_model.bin): bert.embeddings.* -> text_encoder.embeddings.*,
//    bert.encoder.layer.* -> text_encoder.encoder.layer.*, old LayerNorm names gamma/beta -> weight/bias; bert.pooler.*,
//    cls.* and embeddings.position_ids (a constant arange buffer newer files carry, absent from §15.5) are ignored.
//    Files without the `bert.` prefix (BertModel rather than BertForPreTraining) are accepted.
//  * A full FIANet checkpoint (the official {'model': state_dict, ...}): keys pass through; a leading `module.`
//    (DataParallel) is stripped.
// The kind of a file is detected from its keys, never from its name (STYLE.md 13).
import type { HostTensor } from '../nn/module.ts';
import { loadStateDictFile, sniffWeightsFormat, type LoadedTensor } from './safetensors.ts';
import { torchStateDict } from './torch-load.ts';

/** One rewrite: the first rule whose pattern matches a key decides; `to: null` ignores the key. */
export interface MapRule {
  pattern: RegExp;
  to: string | ((key: string) => string) | null;
}

export interface MapReport {
  /** Keys dropped by an ignore rule. */
  ignored: string[];
  /** Keys no rule matched (dropped unless `keepUnmatched`). */
  unmatched: string[];
}

/** Applies `rules` to every key; later keys mapping onto an existing target are an error (they would clobber). */
export function mapStateDict<T>(sd: Map<string, T>, rules: MapRule[], opts: { keepUnmatched?: boolean } = {}):
  { mapped: Map<string, T>; report: MapReport } {
  const mapped = new Map<string, T>();
  const report: MapReport = { ignored: [], unmatched: [] };
  const from = new Map<string, string>();
  for (const [key, v] of sd) {
    const rule = rules.find((r) => r.pattern.test(key));
    let target: string;
    if (!rule) {
      if (!opts.keepUnmatched) { report.unmatched.push(key); continue; }
      target = key;
    } else if (rule.to === null) { report.ignored.push(key); continue; }
    else target = typeof rule.to === 'function' ? rule.to(key) : key.replace(rule.pattern, rule.to);
    const prev = from.get(target);
    if (prev !== undefined) throw new Error(`mapStateDict: ${JSON.stringify(prev)} and ${JSON.stringify(key)} both map to ${JSON.stringify(target)}`);
    from.set(target, key);
    mapped.set(target, v);
  }
  return { mapped, report };
}

export const SWIN_RULES: MapRule[] = [
  { pattern: /(^|\.)attn_mask$/, to: null },
  { pattern: /^norm\./, to: null },
  { pattern: /^head\./, to: null },
  { pattern: /^(patch_embed\..+)$/, to: 'backbone.$1' },
  { pattern: /^(layers\.\d+\.blocks\.\d+\..+)$/, to: 'backbone.$1' },
  { pattern: /^(layers\.\d+\.downsample\..+)$/, to: 'backbone.$1' },
];

/** LayerNorm gamma/beta (pre-2019 TF-converted checkpoints) -> weight/bias. */
const lnRename = (k: string): string => k.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');

export const BERT_RULES: MapRule[] = [
  { pattern: /^(bert\.)?pooler\./, to: null },
  { pattern: /^cls\./, to: null },
  { pattern: /^(bert\.)?embeddings\.position_ids$/, to: null },
  { pattern: /^(?:bert\.)?(embeddings\..+)$/, to: (k) => lnRename(`text_encoder.${/^(?:bert\.)?(.*)$/.exec(k)![1]}`) },
  { pattern: /^(?:bert\.)?(encoder\.layer\.\d+\..+)$/, to: (k) => lnRename(`text_encoder.${/^(?:bert\.)?(.*)$/.exec(k)![1]}`) },
];

export const FIANET_RULES: MapRule[] = [
  { pattern: /^module\.(.+)$/, to: '$1' },
  { pattern: /^.+$/, to: '$&' },
];

export type PretrainedKind = 'swin' | 'bert' | 'fianet' | 'raw';

/** Guesses the kind from the keys (a `module.` prefix is looked through). */
export function detectKind(keys: Iterable<string>): PretrainedKind {
  const ks = [...keys].map((k) => k.replace(/^module\./, ''));
  if (ks.some((k) => /^(backbone|classifier|text_encoder)\./.test(k))) return 'fianet';
  if (ks.some((k) => /^(bert\.)?(embeddings\.word_embeddings|encoder\.layer\.\d+\.attention)\./.test(k))) return 'bert';
  if (ks.some((k) => k.startsWith('patch_embed.')) && ks.some((k) => /^layers\.\d+\.blocks\.\d+\./.test(k))) return 'swin';
  return 'raw';
}

export const RULES: Record<Exclude<PretrainedKind, 'raw'>, MapRule[]> = { swin: SWIN_RULES, bert: BERT_RULES, fianet: FIANET_RULES };

/** Maps a state dict read from an external file to FIANet keys. 'raw' keeps every key as it is. */
export function mapPretrained<T = HostTensor>(sd: Map<string, T>, kind: PretrainedKind | 'auto' = 'auto'):
  { kind: PretrainedKind; mapped: Map<string, T>; report: MapReport } {
  const k = kind === 'auto' ? detectKind(sd.keys()) : kind;
  if (k === 'raw') return { kind: k, mapped: new Map(sd), report: { ignored: [], unmatched: [] } };
  return { kind: k, ...mapStateDict(sd, RULES[k]) };
}

/**
 * Reads a pretrained file (safetensors or torch, sniffed from its bytes; `key` picks the state dict inside a torch
 * file) and maps it. Load the result with `model.loadStateDict(mapped, { strict: false })` and check the report.
 */
export async function loadPretrained(file: string, kind: PretrainedKind | 'auto' = 'auto', opts: { key?: string } = {}):
  Promise<{ kind: PretrainedKind; mapped: Map<string, LoadedTensor>; report: MapReport }> {
  const fmt = await sniffWeightsFormat(file);
  const sd = fmt === 'safetensors' || opts.key === undefined ? await loadStateDictFile(file) : await torchStateDict(file, opts);
  return mapPretrained(sd, kind);
}
