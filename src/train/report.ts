// `fianet report RUN_DIR`: a one-page markdown summary of a run folder, enough to cite a number: the config and a
// hash of the resolved config, a hash of the dataset's annotation files, the environment, the best epoch and the
// split that chose it, val and test metrics, efficiency (medians over logged steps) and wall-clock training time.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import type { FianetConfig } from '../config/fianet.ts';
import { resolveRefSegRSRoot } from '../data/refsegrs.ts';
import { rrsisdPaths } from '../data/rrsisd.ts';
import type { TrainState } from './checkpoint.ts';
import { readMetrics, type MetricRow } from './plot.ts';
import { writeFileAtomic } from './run-dir.ts';

const sha12 = (h: ReturnType<typeof createHash>) => h.digest('hex').slice(0, 12);

/** sha256 of the resolved config file (config.yaml), 12 hex digits. */
export function configHash(runDir: string): string {
  return sha12(createHash('sha256').update(readFileSync(path.join(runDir, 'config.yaml'))));
}

/** The dataset root a run read: data.root, or the synthetic cache folder the trainer generated (src/train/data.ts). */
export function dataRoot(cfg: Pick<FianetConfig, 'data'>): string {
  const d = cfg.data;
  if (d.root !== null) return d.root;
  const s = d.synthetic;
  return path.resolve(s.dir, `${d.dataset}-n${s.n}-s${s.size}-seed${s.seed}`);
}

/** The annotation files that define a dataset's splits (images are named by them). */
export function splitFiles(dataset: string, root: string): string[] {
  if (dataset === 'rrsisd') {
    const p = rrsisdPaths(root);
    return [p.refs, p.instances];
  }
  const dir = resolveRefSegRSRoot(root);
  return ['train', 'val', 'test'].map((s) => path.join(dir, `output_phrase_${s}.txt`));
}

/** sha256 over (file name, contents) of the split files, 12 hex digits; or why it cannot be computed. */
export function dataHash(cfg: Pick<FianetConfig, 'data'>): { hash: string | null; root: string; files: string[]; missing: string[] } {
  const root = dataRoot(cfg);
  let files: string[];
  try {
    files = splitFiles(cfg.data.dataset, root);
  } catch {
    return { hash: null, root, files: [], missing: [root] };
  }
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) return { hash: null, root, files, missing };
  const h = createHash('sha256');
  for (const f of files) h.update(path.basename(f)).update('\0').update(readFileSync(f)).update('\0');
  return { hash: sha12(h), root, files, missing };
}

export function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const k = v.length >> 1;
  return v.length % 2 ? v[k]! : (v[k - 1]! + v[k]!) / 2;
}

/**
 * Wall time spent training from train.log's ISO timestamps, summed per session (a session starts at a
 * 'starting' or 'resuming' line), so the gap between a stop and a resume is not counted.
 */
export function trainingSeconds(log: string): { seconds: number; sessions: number } | null {
  let total = 0;
  let sessions = 0;
  let first: number | null = null;
  let last: number | null = null;
  for (const line of log.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/.exec(line);
    if (!m) continue;
    const t = Date.parse(m[1]!);
    if (/^(starting|resuming) /.test(m[2]!) && first !== null) {
      total += last! - first;
      first = null;
    }
    if (first === null) { first = t; sessions++; }
    last = t;
  }
  if (first === null) return null;
  total += last! - first;
  return { seconds: total / 1000, sessions };
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

const f2 = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : '—');

function duration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s - 3600 * h - 60 * m;
  return h ? `${h} h ${m} min` : m ? `${m} min ${Math.round(sec)} s` : `${sec.toFixed(1)} s`;
}

/** One metrics line: oIoU, mIoU, Pr@X from a metrics.jsonl row (Pr@X keys) or an eval metrics.json (precision map). */
function metricsLine(m: Record<string, unknown>): string {
  const pr = (m.precision as Record<string, number> | undefined) ??
    Object.fromEntries(Object.entries(m).filter(([k]) => k.startsWith('Pr@')).map(([k, v]) => [k.slice(3), v as number]));
  return `oIoU ${f2(m.oIoU)} · mIoU ${f2(m.mIoU)} · ${Object.entries(pr).map(([k, v]) => `Pr@${k} ${f2(v)}`).join(' · ')}`;
}

export function report(runDir: string): string {
  const cfgFile = path.join(runDir, 'config.yaml');
  if (!existsSync(cfgFile)) throw new Error(`report: ${cfgFile} not found (not a run folder)`);
  const cfg = yaml.load(readFileSync(cfgFile, 'utf8')) as FianetConfig;
  const env = readJson<{ node?: string; platform?: string; git?: { sha: string | null; dirty: boolean | null; branch?: string | null }; adapter?: Record<string, unknown>; startedAt?: string; packages?: Record<string, string> }>(path.join(runDir, 'env.json'));
  const ck = path.join(runDir, 'checkpoints');
  const last = readJson<TrainState>(path.join(ck, 'last.state.json'));
  const best = last?.best ?? readJson<TrainState>(path.join(ck, 'best.state.json'))?.best ?? null;
  const rows = readMetrics(runDir);
  const tr = rows.filter((r) => r.type === 'train');
  const out: string[] = [`# Run report: ${cfg.name ?? '(unnamed)'}`, '', `Run folder: \`${path.resolve(runDir)}\``, ''];

  const data = dataHash(cfg);
  out.push('## Reproducibility', '');
  out.push(`- config: **${cfg.name}**, resolved config sha256 \`${configHash(runDir)}\` (config.yaml)`);
  out.push(`- data: ${cfg.data.dataset}${cfg.data.root === null ? ' (synthetic)' : ''} at \`${data.root}\`, split files sha256 ` +
    (data.hash ? `\`${data.hash}\` (${data.files.map((f) => path.basename(f)).join(', ')})` : `unavailable (missing: ${data.missing.join(', ')})`));
  const a = env?.adapter ?? {};
  const adapter = a.device === 'cpu' ? 'cpu (no WebGPU)' : [a.description, a.vendor, a.architecture].filter((x) => typeof x === 'string' && x).join(' / ') +
    (a.variant ? ` (${String(a.variant)} kernels${a.subgroupSize ? `, subgroup ${String(a.subgroupSize)}` : ''})` : '');
  const git = env?.git;
  out.push(`- env: node ${env?.node ?? '?'} on ${env?.platform ?? '?'}; git ${git?.sha ?? 'unknown'}${git?.dirty ? ' (dirty)' : git?.dirty === false ? ' (clean)' : ''}; adapter ${adapter || '?'}; started ${env?.startedAt ?? '?'}`);
  out.push(`- training: ${cfg.train.epochs} epoch${cfg.train.epochs === 1 ? '' : 's'}, batch ${cfg.train.batch_size}, lr ${cfg.train.lr}, seed ${cfg.train.seed}, image ${cfg.data.image_size}, device ${cfg.device ?? 'auto'}`, '');

  out.push('## Progress and selection', '');
  const finished = last !== null && (last.epoch + 1 >= cfg.train.epochs || (cfg.train.max_steps != null && last.step >= cfg.train.max_steps));
  out.push(last ? `- ${last.epoch + 1} of ${cfg.train.epochs} epochs done, ${last.step} steps${finished ? ' (finished)' : ' (unfinished: resume with --resume)'}` : '- no checkpoint saved yet');
  out.push(best ? `- best checkpoint: epoch ${best.epoch}, chosen on **${best.split}** by ${best.metric} ${f2(best.value)}` : '- no best checkpoint yet', '');

  out.push('## Metrics', '');
  const selRows = rows.filter((r) => r.type !== 'train');
  const atBest = best ? selRows.find((r) => r.type === best.split && r.epoch === best.epoch) : undefined;
  if (atBest) out.push(`- ${atBest.type} at the best epoch (${atBest.epoch}): ${metricsLine(atBest)}`);
  const lastEval = selRows[selRows.length - 1];
  if (lastEval && lastEval !== atBest) out.push(`- ${lastEval.type} at the last evaluated epoch (${lastEval.epoch}): ${metricsLine(lastEval)}`);
  const evalDir = path.join(runDir, 'eval');
  const evals = existsSync(evalDir) ? readdirSync(evalDir).filter((d) => existsSync(path.join(evalDir, d, 'metrics.json'))).sort() : [];
  for (const d of evals) {
    const m = readJson<Record<string, unknown>>(path.join(evalDir, d, 'metrics.json'));
    if (!m) continue;
    const ckpt = String(m.checkpoint ?? '?');
    out.push(`- eval/${d} (${/best/.test(ckpt) ? 'best' : /last/.test(ckpt) ? 'last' : path.basename(ckpt)} checkpoint${typeof m.count === 'number' ? `, ${m.count} samples` : ''}): ${metricsLine(m)}`);
  }
  if (!atBest && !lastEval && !evals.length) out.push('- no evaluation yet');
  out.push('');

  out.push('## Efficiency', '');
  const med = (k: string) => median(tr.map((r: MetricRow) => r[k] as number));
  const peaks = tr.map((r) => r.peak_mib).filter((v): v is number => typeof v === 'number');
  out.push(tr.length
    ? `- training: ${f2(med('images_per_s'))} images/s, ${f2(med('ms_step'))} ms per step (forward + backward ${f2(med('ms_fwd_bwd'))} ms), ` +
      `${med('dispatches_per_step') ?? '—'} dispatches per step (medians over ${tr.length} logged steps)`
    : `- training: no logged steps (train.log_every = ${cfg.train.log_every})`);
  out.push(`- peak device memory: ${peaks.length ? `${Math.max(...peaks).toFixed(1)} MiB (buffer pool high-water mark)` : '—'}`);
  const log = existsSync(path.join(runDir, 'train.log')) ? trainingSeconds(readFileSync(path.join(runDir, 'train.log'), 'utf8')) : null;
  out.push(`- training time: ${log ? `${duration(log.seconds)}${log.sessions > 1 ? ` over ${log.sessions} sessions` : ''} (train.log timestamps, evaluation included)` : '—'}`);
  return out.join('\n') + '\n';
}

/** The `fianet report` command: prints the report and writes <run>/report.md (or --out). */
export function cliReport(runDir: string, o: { out?: string; quiet?: boolean } = {}): string {
  const text = report(runDir);
  writeFileAtomic(o.out ?? path.join(runDir, 'report.md'), text);
  if (!o.quiet) console.log(text);
  return text;
}
