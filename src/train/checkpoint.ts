// Training checkpoints: <name>.safetensors (model, with the model config in its metadata),
// <name>.optim.safetensors (optimizer state tensors keyed by parameter name) and <name>.state.json (counters,
// schedule, RNG, data position, best metric). Each file is written to a temporary name and renamed; the state
// JSON is written last and names the step the tensor files belong to, so a torn save is detected on resume.
import { copyFileSync, existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { keep } from '../tensor/scope.ts';
import { fromArray, type Tensor } from '../tensor/tensor.ts';
import { checkpointMetadata, readSafetensors, saveStateDict } from '../io/safetensors.ts';
import type { GeneratorState } from '../tensor/random.ts';
import type { OptimizerState } from '../optim/optimizer.ts';
import { writeFileAtomic } from './run-dir.ts';
import type { FIANet } from '../models/fianet/model.ts';
import type { AdamW } from '../optim/optimizer.ts';
import type { PolyLR } from '../optim/schedule.ts';

export interface TrainState {
  epoch: number; // last completed epoch (0-based)
  step: number; // optimizer steps taken
  optimizer: { step: number; groups: OptimizerState['groups'] };
  scheduler: { lastIter: number; maxIters: number; power: number };
  rng: GeneratorState;
  data: { epoch: number; position: number }; // where the next batch comes from
  best: { metric: string; value: number; epoch: number; split: string } | null;
  /** The parameter names in optimizer order, to map the state tensors back. */
  paramNames: string[];
}

export async function saveCheckpoint(dir: string, name: string, model: FIANet, opt: AdamW, sched: PolyLR, state: Omit<TrainState, 'optimizer' | 'scheduler'>): Promise<void> {
  const od = opt.stateDict();
  const tensors = new Map<string, Tensor>();
  od.state.forEach((st, i) => {
    for (const [k, t] of Object.entries(st)) tensors.set(`${state.paramNames[i]}.${k}`, t);
  });
  await saveStateDict(path.join(dir, `${name}.optim.safetensors`), tensors, { 'fianet.step': String(state.step) });
  await saveStateDict(path.join(dir, `${name}.safetensors`), model, checkpointMetadata(model.config, { 'fianet.step': String(state.step), 'fianet.epoch': String(state.epoch) }));
  const full: TrainState = { ...state, optimizer: { step: od.step, groups: od.groups }, scheduler: sched.stateDict() };
  writeFileAtomic(path.join(dir, `${name}.state.json`), JSON.stringify(full, null, 1));
}

/** Copies a saved checkpoint (all three files) under another name, each atomically. */
export function copyCheckpoint(dir: string, from: string, to: string): void {
  for (const ext of ['.optim.safetensors', '.safetensors', '.state.json']) {
    const src = path.join(dir, from + ext);
    const tmp = path.join(dir, `${to}${ext}.tmp-${process.pid}`);
    copyFileSync(src, tmp);
    renameSync(tmp, path.join(dir, to + ext));
  }
}

export function readTrainState(dir: string, name: string): TrainState {
  const file = path.join(dir, `${name}.state.json`);
  if (!existsSync(file)) throw new Error(`resume: ${file} does not exist (no completed checkpoint in this run)`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TrainState;
  } catch (e) {
    throw new Error(`resume: ${file} is not valid JSON (${(e as Error).message})`);
  }
}

/** Restores optimizer state tensors (device copies) and counters. */
export async function loadOptimizerState(dir: string, name: string, opt: AdamW, state: TrainState, device: Tensor['device']): Promise<void> {
  const file = path.join(dir, `${name}.optim.safetensors`);
  const { tensors, metadata } = await readSafetensors(file);
  if (metadata['fianet.step'] !== String(state.step)) {
    throw new Error(`resume: ${file} holds step ${metadata['fianet.step']}, ${name}.state.json step ${state.step}: the save was interrupted`);
  }
  const per: Record<string, Tensor>[] = state.paramNames.map(() => ({}));
  const index = new Map(state.paramNames.map((n, i) => [n, i]));
  for (const [key, t] of tensors) {
    const dot = key.lastIndexOf('.');
    const i = index.get(key.slice(0, dot));
    if (i === undefined) throw new Error(`resume: ${file} has state for unknown parameter ${key}`);
    per[i]![key.slice(dot + 1)] = keep(fromArray(t.data, t.shape, { device }));
  }
  opt.loadStateDict({ step: state.optimizer.step, groups: state.optimizer.groups, state: per });
}
