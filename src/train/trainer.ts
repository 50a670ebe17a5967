// `fianet train`: one run from a config into its own run folder, with validation every epoch on val, the best
// checkpoint chosen on the configured split (val by default, and the run says so), exact resume at epoch
// boundaries, a NaN/Inf guard, and efficiency figures (images/s, ms per step split into forward, backward and
// optimizer on logged steps, dispatches per step, peak device memory).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as F from '../index.ts';
import { loadFianetConfig, dumpConfig } from '../config/index.ts';
import { validate } from '../config/schema.ts';
import { checkConfig, CONFIG_SCHEMA, type FianetConfig } from '../config/fianet.ts';
import yaml from 'js-yaml';
import { DataLoader, bertSentenceEncoder, blackBoxesFor, type LoadedBatch } from '../data/loader.ts';
import { FIANet } from '../models/fianet/model.ts';
import { loadCheckpoint, loadConfiguredWeights } from '../models/fianet/weights.ts';
import { segLoss } from '../kernels/loss/loss.op.ts';
import { prepareData } from './data.ts';
import { batchTensors, evaluate } from './evaluate.ts';
import { fianetParamGroups } from './optim-groups.ts';
import { copyCheckpoint, loadOptimizerState, readTrainState, saveCheckpoint, type TrainState } from './checkpoint.ts';
import { environment, newRunDir, RunLog, writeFileAtomic } from './run-dir.ts';
import { Progress } from './progress.ts';

export interface TrainOptions {
  config?: string;
  overrides?: string[];
  resume?: string;
  experiments?: string;
  quiet?: boolean;
  /** Stop (checkpoint saved, as after a crash between epochs) once this many epochs are complete. */
  stopAfterEpochs?: number;
}

export interface TrainResult {
  runDir: string;
  best: TrainState['best'];
  test: Record<string, unknown> | null;
}

export class TrainingDiverged extends Error {}

function readRunConfig(runDir: string): FianetConfig {
  const file = path.join(runDir, 'config.yaml');
  if (!existsSync(file)) throw new Error(`resume: ${file} does not exist (not a run folder)`);
  const cfg = validate(yaml.load(readFileSync(file, 'utf8')), CONFIG_SCHEMA, '', file) as unknown as FianetConfig;
  checkConfig(cfg, file);
  return cfg;
}

/** A recorded training step whose loss row (loss, ce, dice) is still on its way back from the device. */
interface StepRecord {
  parts: F.Tensor;
  values: Promise<ArrayLike<number>>;
  step: number;
  lr: number;
  ts: number[];
  logged: boolean;
  dispatches: number;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const resuming = !!o.resume;
  const cfg = resuming ? readRunConfig(o.resume!) : loadFianetConfig(o.config!, o.overrides ?? []);
  const runDir = resuming ? o.resume! : newRunDir(o.experiments ?? 'experiments', cfg.name!);
  const ckptDir = path.join(runDir, 'checkpoints');
  const log = new RunLog(runDir, !o.quiet);
  const device = await F.initDevice(cfg.device);
  const rt = device === 'webgpu' ? F.getRuntime() : null;
  if (!resuming) {
    writeFileAtomic(path.join(runDir, 'config.yaml'), dumpConfig(cfg));
    writeFileAtomic(path.join(runDir, 'env.json'), JSON.stringify(environment(process.cwd(), rt ? rt.report : { device: 'cpu' }), null, 1));
  }
  log.line(`${resuming ? 'resuming' : 'starting'} ${cfg.name} in ${runDir} on ${device}`);

  const data = await prepareData(cfg, (s) => log.line(s));
  const model = new FIANet(cfg.model, { device, seed: cfg.train.seed, imageSize: cfg.data.image_size });
  const { groups, names, frozen } = fianetParamGroups(model, cfg);
  const opt = new F.AdamW(groups, { lr: cfg.train.lr, betas: cfg.train.betas as [number, number], eps: cfg.train.eps, weightDecay: cfg.train.weight_decay });
  const paramNames = names.flat();
  // Parameters in no group are never stepped: skip their gradients (backprop still passes through their layers).
  // The official code computes and discards them; the updates are identical.
  const named = new Map(model.namedParameters());
  for (const n of frozen) named.get(n)!.requiresGrad = false;
  const enc = bertSentenceEncoder(cfg.data.dataset, cfg.data.text_length, cfg.data.phrase_mode);
  const loader = new DataLoader({
    records: data.splits.train, loadSample: data.loadSample, batchSize: cfg.train.batch_size, imageSize: cfg.data.image_size,
    textLength: cfg.data.text_length, mode: 'train', shuffle: true, dropLast: true, seed: cfg.train.seed, prefetch: cfg.data.prefetch,
    blackBoxes: cfg.data.box_masking && cfg.data.dataset === 'rrsisd' ? blackBoxesFor('rrsisd', data.splits.train) : undefined,
    encodeText: enc,
  });
  const itersPerEpoch = loader.batchesPerEpoch;
  if (itersPerEpoch === 0) throw new Error(`train: ${data.splits.train.length} training refs make no batch of ${cfg.train.batch_size}`);
  const sched = new F.PolyLR(opt, itersPerEpoch * cfg.train.epochs, cfg.train.poly_power);

  let startEpoch = 0;
  let step = 0;
  let best: TrainState['best'] = null;
  if (resuming) {
    const st = readTrainState(ckptDir, 'last');
    await loadCheckpoint(model, path.join(ckptDir, 'last.safetensors'));
    await loadOptimizerState(ckptDir, 'last', opt, st, device);
    sched.loadStateDict(st.scheduler);
    model.generator.setState(st.rng);
    startEpoch = st.epoch + 1;
    step = st.step;
    best = st.best;
    log.line(`resumed after epoch ${st.epoch + 1} (step ${st.step})`);
  } else {
    for (const l of await loadConfiguredWeights(model, cfg.weights)) log.line(l);
  }
  log.line(`${model.numParameters().toLocaleString('en-US')} parameters; ${frozen.length} tensors never stepped (BERT embeddings and layers outside train.bert_train_layers); ` +
    `${itersPerEpoch} iterations per epoch, ${cfg.train.epochs} epochs; best checkpoint chosen on ${cfg.train.select_on}`);

  const accum = cfg.train.grad_accum;
  const micro = cfg.train.batch_size / accum;
  const progress = new Progress(itersPerEpoch * cfg.train.epochs, !o.quiet && !!process.stdout.isTTY);
  let stop = false;
  for (let epoch = startEpoch; epoch < cfg.train.epochs && !stop; epoch++) {
    model.train();
    const t0 = performance.now();
    let seen = 0;
    // Step k's loss is read back while step k+1 runs: waiting for it at once would leave the GPU idle while the
    // host records the next step. A logged step is measured alone (nothing queued before it, read at once).
    const queue: StepRecord[] = [];
    const settle = async (r: StepRecord): Promise<void> => {
      const [loss, ce, dice] = Array.from(await r.values);
      r.parts.dispose();
      r.ts.push(performance.now());
      if (!Number.isFinite(loss!)) {
        const last = path.join(ckptDir, 'last.safetensors');
        const kept = existsSync(last) ? `the last good checkpoint is ${last} (epoch ${epoch})` : 'no checkpoint was saved before this';
        log.line(`epoch ${epoch + 1} step ${r.step}: loss is ${loss}; stopping, ${kept}`);
        for (const q of queue) q.parts.dispose();
        opt.dispose();
        model.dispose();
        throw new TrainingDiverged(`training diverged at step ${r.step} (loss ${loss}); ${kept}`);
      }
      const lr = r.lr;
      const ips = seen / ((performance.now() - t0) / 1000);
      progress.tick(`epoch ${epoch + 1}/${cfg.train.epochs} loss ${loss!.toFixed(4)} lr ${lr.toExponential(2)} ${ips.toFixed(1)} img/s`);
      if (r.logged) {
        const dispatches = rt ? r.dispatches : null;
        const peak = rt ? rt.poolStats().peakBytes / 2 ** 20 : null;
        const row = {
          type: 'train', epoch: epoch + 1, step: r.step, loss: loss!, ce: ce!, dice: dice!, lr, images_per_s: +ips.toFixed(3),
          ms_fwd_bwd: rt ? +(r.ts[1]! - r.ts[0]!).toFixed(1) : null, ms_step: +(r.ts[r.ts.length - 1]! - r.ts[0]!).toFixed(1),
          dispatches_per_step: dispatches, peak_mib: peak === null ? null : +peak.toFixed(1),
        };
        log.metrics(row);
        if (!progress.active) log.line(`epoch ${epoch + 1} step ${r.step}: loss ${loss!.toFixed(4)} (ce ${ce!.toFixed(4)}, dice ${dice!.toFixed(4)}) lr ${lr.toExponential(3)} ${ips.toFixed(2)} img/s, ${row.ms_step} ms/step${dispatches ? `, ${dispatches} dispatches` : ''}`);
      }
    };
    for await (const b of loader.epoch(epoch)) {
      const logged = (step + 1) % cfg.train.log_every === 0;
      if (logged) while (queue.length) await settle(queue.shift()!);
      const d0 = rt?.dispatches ?? 0;
      const ts = [performance.now()];
      const parts = F.scope(() => {
        let sum: F.Tensor | null = null;
        for (let k = 0; k < accum; k++) {
          const x = batchTensors(accum > 1 ? sliceBatch(b, k * micro, micro) : b, device);
          const logits = model.forward(x.images, x.ids, x.mC, x.mG, x.mS);
          const r = segLoss(logits, x.masks, { weight: cfg.train.ce_weights, ceCoef: cfg.train.ce_coef, diceCoef: cfg.train.dice_coef, eps: 1e-6 });
          (accum > 1 ? F.div(r.loss, accum) : r.loss).backward();
          const row = F.stack([r.loss, r.ce, r.dice]);
          sum = sum ? F.add(sum, row) : row;
        }
        return F.keep(F.div(sum!, accum));
      });
      if (logged && rt) { await rt.sync(); ts.push(performance.now()); }
      opt.step();
      sched.step();
      model.zeroGrad();
      step++;
      const lr = opt.paramGroups[0]!.lr; // logged as before: the rate the next step will use
      seen += b.size;
      queue.push({ parts, values: parts.toArray(), step, lr, ts, logged, dispatches: (rt?.dispatches ?? 0) - d0 });
      while (queue.length > (logged ? 0 : 1)) await settle(queue.shift()!);
      if (cfg.train.max_steps !== null && step >= cfg.train.max_steps) { stop = true; break; }
    }
    while (queue.length) await settle(queue.shift()!);
    progress.clear();
    // The checkpoint is saved before evaluating: a crash in evaluation loses nothing.
    const state = { epoch, step, rng: model.generator.getState(), data: { epoch: epoch + 1, position: 0 }, best, paramNames };
    await saveCheckpoint(ckptDir, 'last', model, opt, sched, state);
    const epochSeconds = (performance.now() - t0) / 1000;
    log.line(`epoch ${epoch + 1} done in ${epochSeconds.toFixed(1)} s (${(seen / epochSeconds).toFixed(2)} img/s train)`);
    if ((epoch + 1) % cfg.train.val_every === 0 || epoch + 1 === cfg.train.epochs || stop) {
      const split = cfg.train.select_on;
      const ev = await evaluate(model, cfg, data, data.splits[split]);
      const m = ev.metrics;
      log.metrics({ type: split, epoch: epoch + 1, step, oIoU: m.oIoU, mIoU: m.mIoU, ...Object.fromEntries(Object.entries(m.precision).map(([k, v]) => [`Pr@${k}`, v])), images_per_s: +ev.imagesPerSec.toFixed(3) });
      log.line(`${split} after epoch ${epoch + 1}: oIoU ${m.oIoU.toFixed(2)} mIoU ${m.mIoU.toFixed(2)} Pr@0.5 ${m.precision['0.5']?.toFixed(2)} (${ev.imagesPerSec.toFixed(2)} img/s eval)`);
      if (!best || m.oIoU > best.value) {
        best = { metric: 'oIoU', value: m.oIoU, epoch: epoch + 1, split };
        await saveCheckpoint(ckptDir, 'last', model, opt, sched, { ...state, best });
        copyCheckpoint(ckptDir, 'last', 'best');
        log.line(`new best ${split} oIoU ${m.oIoU.toFixed(2)}: checkpoints/best.safetensors (chosen on ${split})`);
      } else {
        await saveCheckpoint(ckptDir, 'last', model, opt, sched, { ...state, best });
      }
    }
    if (o.stopAfterEpochs !== undefined && epoch + 1 >= o.stopAfterEpochs) {
      log.line(`stopping after epoch ${epoch + 1} as asked (resume with --resume ${runDir})`);
      opt.dispose();
      model.dispose();
      return { runDir, best, test: null };
    }
  }
  let test: Record<string, unknown> | null = null;
  if (cfg.train.test_at_end && data.splits.test.length && existsSync(path.join(ckptDir, 'best.safetensors'))) {
    await loadCheckpoint(model, path.join(ckptDir, 'best.safetensors'));
    const ev = await evaluate(model, cfg, data, data.splits.test);
    test = { split: 'test', checkpoint: 'best', chosen_on: best?.split, epoch: best?.epoch, images_per_s: ev.imagesPerSec, ...ev.metrics };
    const dir = path.join(runDir, 'eval', 'test');
    writeFileAtomic(path.join(dir, 'metrics.json'), JSON.stringify(test, null, 1));
    log.line(`test (best checkpoint, chosen on ${best?.split} at epoch ${best?.epoch}): oIoU ${ev.metrics.oIoU.toFixed(2)} mIoU ${ev.metrics.mIoU.toFixed(2)}`);
  }
  opt.dispose();
  model.dispose();
  return { runDir, best, test };
}

/** Micro-batch k of a collated batch (gradient accumulation). */
function sliceBatch(b: LoadedBatch, start: number, n: number): LoadedBatch {
  const S = b.imageSize;
  const L = b.textLength;
  return {
    ...b, size: n, records: b.records.slice(start, start + n),
    images: b.images.subarray(start * 3 * S * S, (start + n) * 3 * S * S),
    masks: b.masks.subarray(start * S * S, (start + n) * S * S),
    tokenIds: b.tokenIds.subarray(start * L, (start + n) * L),
    contextMask: b.contextMask.subarray(start * L, (start + n) * L),
    objectMask: b.objectMask.subarray(start * L, (start + n) * L),
    spatialMask: b.spatialMask.subarray(start * L, (start + n) * L),
  };
}

