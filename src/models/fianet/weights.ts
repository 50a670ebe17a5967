// Loading weights into a FIANet: the Swin-B 22k file and bert-base-uncased (mapped per FIANET.md §15.6) for
// training from pretrained backbones, or a full checkpoint (ours, with the model config in its metadata, or the
// official {'model': state_dict, ...}). Every load returns a report of missing, unexpected and mismatched keys;
// shape mismatches and foreign architectures are errors that name the file and the key.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadPretrained } from '../../io/pretrained.ts';
import { readCheckpointMeta, sniffWeightsFormat, loadStateDictFile } from '../../io/safetensors.ts';
import { formatReport, type LoadReport } from '../../nn/module.ts';
import type { FIANet } from './model.ts';
import type { ModelConfig } from './types.ts';

export interface WeightsSpec {
  swin: string | null;
  bert: string | null;
  init: string | null;
}

function mustExist(file: string, what: string): void {
  if (!existsSync(file)) throw new Error(`${what}: ${file} does not exist`);
}

function checkMismatch(file: string, r: LoadReport): void {
  if (r.mismatched.length) throw new Error(`${file}: shapes differ from the model: ${formatReport({ missing: [], unexpected: [], mismatched: r.mismatched })}`);
}

/** The Swin file: only backbone.* Swin keys are expected to load; FIAM, TMEM and norm0..3 stay as initialized. */
export async function loadSwinWeights(model: FIANet, file: string): Promise<LoadReport> {
  mustExist(file, 'weights.swin');
  const { mapped } = await loadPretrained(file, 'swin', { key: 'model' });
  const table = [...mapped.entries()].find(([k]) => k.endsWith('relative_position_bias_table'));
  if (table) {
    const ws = (Math.sqrt(table[1].shape[0]!) + 1) / 2;
    if (ws !== model.config.backbone.window_size) {
      throw new Error(`${file}: its relative-position tables are for window ${ws}, the model config says window_size ${model.config.backbone.window_size} (set model.backbone.window_size)`);
    }
  }
  const r = model.loadStateDict(mapped, { strict: false });
  checkMismatch(file, r);
  if (r.unexpected.length) throw new Error(`${file}: keys the model does not have: ${r.unexpected.slice(0, 10).join(', ')}`);
  return r;
}

/** bert-base-uncased: a folder (pytorch_model.bin or model.safetensors) or the file itself. */
export async function loadBertWeights(model: FIANet, where: string): Promise<LoadReport> {
  mustExist(where, 'weights.bert');
  let file = where;
  if (statSync(where).isDirectory()) {
    const found = ['model.safetensors', 'pytorch_model.bin'].map((f) => path.join(where, f)).find((f) => existsSync(f));
    if (!found) throw new Error(`weights.bert: ${where} holds neither model.safetensors nor pytorch_model.bin`);
    file = found;
  }
  const { mapped } = await loadPretrained(file, 'bert');
  const r = model.loadStateDict(mapped, { strict: false });
  checkMismatch(file, r);
  if (r.unexpected.length) throw new Error(`${file}: keys the model does not have: ${r.unexpected.slice(0, 10).join(', ')}`);
  return r;
}

function configDiff(a: unknown, b: unknown, at = ''): string[] {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${at}: checkpoint ${JSON.stringify(a)}, requested ${JSON.stringify(b)}`];
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => configDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
}

/**
 * A full checkpoint. Ours carry the model config: a different architecture is an error listing the differences.
 * Official .pth files ({'model': ...}) carry none, so their keys and shapes decide: the report is returned.
 */
export async function loadCheckpoint(model: FIANet, file: string, { strict = true } = {}): Promise<LoadReport> {
  mustExist(file, 'checkpoint');
  const fmt = await sniffWeightsFormat(file);
  let r: LoadReport;
  if (fmt === 'safetensors') {
    const meta = await readCheckpointMeta(file);
    if (meta.modelConfig) {
      const diff = configDiff(meta.modelConfig, model.config as ModelConfig);
      if (diff.length) throw new Error(`${file}: trained with a different architecture than requested: ${diff.slice(0, 8).join('; ')}`);
    }
    r = model.loadStateDict(await loadStateDictFile(file), { strict: false });
  } else {
    const { mapped } = await loadPretrained(file, 'fianet', { key: 'model' });
    r = model.loadStateDict(mapped, { strict: false });
  }
  checkMismatch(file, r);
  if (strict && (r.missing.length || r.unexpected.length)) throw new Error(`${file}: ${formatReport(r)}`);
  return r;
}

/** Applies the config's weights section; returns a line per file for the log. */
export async function loadConfiguredWeights(model: FIANet, w: WeightsSpec): Promise<string[]> {
  const lines: string[] = [];
  if (w.init) {
    const r = await loadCheckpoint(model, w.init, { strict: false });
    lines.push(`loaded ${w.init}: ${formatReport(r)}`);
    return lines;
  }
  if (w.swin) {
    const r = await loadSwinWeights(model, w.swin);
    lines.push(`loaded Swin weights ${w.swin} (${r.missing.length} model keys not in the file: FIAM, TMEM, norms, text, decoder)`);
  }
  if (w.bert) {
    const r = await loadBertWeights(model, w.bert);
    lines.push(`loaded BERT weights ${w.bert} (${r.missing.length} model keys not in the file)`);
  }
  return lines;
}
