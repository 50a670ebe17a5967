// `fianet sweep MANIFEST`: an ablation table as config deltas (STYLE.md practice 15). Each manifest row is a config
// plus optional dotted overrides; every row runs with `seeds` seeds (train.seed = the config's seed + s). Runs live
// in fixed folders, experiments/sweeps/<manifest>/<row slug>/seed<s>/, so a rerun finds them: a finished run is
// skipped, an unfinished one resumed from its last checkpoint, a missing one started. Then each run's best
// checkpoint is evaluated on the manifest's split (an existing eval/<split>/metrics.json of the best checkpoint is
// reused) and the sweep writes results.csv (one line per run) and results.md (mean ± sample std over seeds, laid
// out like the paper's ablation table), plus the training curves of all runs overlaid (curves-*.svg/png).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { dumpConfig, loadFianetConfig } from '../config/index.ts';
import { validate, type Schema } from '../config/schema.ts';
import type { FianetConfig } from '../config/fianet.ts';
import { train } from './trainer.ts';
import { listRuns, writeFileAtomic } from './run-dir.ts';
import { plotRuns } from './plot.ts';
import type { TrainState } from './checkpoint.ts';

const MANIFEST_SCHEMA: Schema = {
  title: { type: 'string', doc: 'the table title' },
  seeds: { type: 'int', default: 1, min: 1, doc: 'seeds per row (train.seed = config seed + 0..seeds-1)' },
  split: { type: 'enum', choices: ['val', 'test'], default: 'test', doc: 'split the best checkpoints are evaluated on' },
  metrics: { type: 'list', item: { type: 'string', doc: 'oIoU, mIoU or Pr@X' }, default: ['Pr@0.5', 'Pr@0.7', 'Pr@0.9', 'oIoU', 'mIoU'], doc: 'table columns' },
  rows: {
    type: 'list',
    doc: 'table rows',
    item: {
      type: 'object',
      doc: 'one row',
      fields: {
        name: { type: 'string', doc: 'row label' },
        config: { type: 'string', doc: 'config YAML, relative to the manifest' },
        set: { type: 'list', item: { type: 'string', doc: 'key.path=value' }, default: [], doc: 'dotted overrides for this row' },
      },
    },
  },
};

export interface SweepRow { name: string; config: string; set: string[] }
export interface SweepManifest { name: string; file: string; title: string; seeds: number; split: 'val' | 'test'; metrics: string[]; rows: SweepRow[] }

/** Reads and checks a manifest; row config paths become absolute (they are relative to the manifest). */
export function readManifest(file: string): SweepManifest {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new Error(`sweep: manifest ${abs} not found`);
  const m = validate(yaml.load(readFileSync(abs, 'utf8')), MANIFEST_SCHEMA, '', abs) as unknown as Omit<SweepManifest, 'name' | 'file'>;
  if (m.rows.length === 0) throw new Error(`${abs}: rows: the manifest has no rows`);
  const slugs = new Map<string, string>();
  for (const r of m.rows) {
    r.config = path.resolve(path.dirname(abs), r.config);
    const s = rowSlug(r.name);
    if (slugs.has(s)) throw new Error(`${abs}: rows '${slugs.get(s)}' and '${r.name}' have the same folder name '${s}': rename one`);
    slugs.set(s, r.name);
  }
  return { ...m, name: path.basename(abs).replace(/\.ya?ml$/, ''), file: abs };
}

/** A folder name for a row label: "w/o TMEM" -> "w-o-tmem". */
export function rowSlug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'row';
}

export interface SweepOptions {
  /** Seeds per row (default: the manifest's). */
  seeds?: number;
  /** The experiments root (default 'experiments'); the sweep lives in <experiments>/sweeps/<manifest name>/. */
  experiments?: string;
  /** Print the plan (start / resume / skip per run) and do nothing. */
  dryRun?: boolean;
  /** Overrides applied to every row after the row's own `set` list (the seed override comes last). */
  extraOverrides?: string[];
  quiet?: boolean;
}

export type RunAction = 'start' | 'resume' | 'skip';

export interface SweepRun {
  row: string;
  slug: string;
  seed: number;
  /** The per-seed folder the trainer creates the run folder in. */
  folder: string;
  runDir: string | null;
  action: RunAction;
  status: 'pending' | 'done' | 'failed';
  error?: string;
  metrics?: Record<string, number | null>;
}

export interface SweepResult {
  dir: string;
  runs: SweepRun[];
  /** Runs this call started or resumed (empty when everything was finished). */
  trained: string[];
  csv: string | null;
  markdown: string | null;
}

interface Planned extends SweepRun { cfg: FianetConfig; overrides: string[]; resolved: string }

/** Whether a run folder's last checkpoint is its final one. */
export function runFinished(runDir: string): boolean {
  const st = lastState(runDir);
  if (!st) return false;
  const cfg = yaml.load(readFileSync(path.join(runDir, 'config.yaml'), 'utf8')) as { train: { epochs: number; max_steps?: number | null } };
  return st.epoch + 1 >= cfg.train.epochs || (cfg.train.max_steps != null && st.step >= cfg.train.max_steps);
}

function lastState(runDir: string): TrainState | null {
  const file = path.join(runDir, 'checkpoints', 'last.state.json');
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TrainState;
  } catch {
    return null;
  }
}

/**
 * The run of a per-seed folder that matches the resolved config: the finished one if any, else the one with the
 * most steps saved. Runs with another config (the manifest or a base config changed since) are not reused, and a
 * run that crashed before its first checkpoint cannot be resumed, so it is left alone and a new one started.
 */
function findRun(folder: string, resolved: string): { runDir: string | null; action: RunAction; ignored: number } {
  const runs = listRuns(folder).sort();
  let ignored = 0;
  let best: { dir: string; step: number } | null = null;
  for (const dir of runs) {
    if (readFileSync(path.join(dir, 'config.yaml'), 'utf8') !== resolved) { ignored++; continue; }
    if (runFinished(dir)) return { runDir: dir, action: 'skip', ignored };
    const st = lastState(dir);
    if (st && (!best || st.step > best.step)) best = { dir, step: st.step };
  }
  return best ? { runDir: best.dir, action: 'resume', ignored } : { runDir: null, action: 'start', ignored };
}

function plan(m: SweepManifest, dir: string, seeds: number, extra: string[]): Planned[] {
  const out: Planned[] = [];
  for (const row of m.rows) {
    const base = loadFianetConfig(row.config, [...row.set, ...extra]);
    for (let s = 0; s < seeds; s++) {
      const overrides = [...row.set, ...extra, `train.seed=${base.train.seed + s}`];
      const cfg = loadFianetConfig(row.config, overrides);
      const resolved = dumpConfig(cfg);
      const slug = rowSlug(row.name);
      const folder = path.join(dir, slug, `seed${s}`);
      const found = findRun(folder, resolved);
      out.push({ row: row.name, slug, seed: s, folder, runDir: found.runDir, action: found.action, status: found.action === 'skip' ? 'done' : 'pending', cfg, overrides, resolved });
    }
  }
  return out;
}

function saveState(dir: string, m: SweepManifest, runs: SweepRun[]): void {
  const strip = (r: SweepRun): SweepRun => ({ row: r.row, slug: r.slug, seed: r.seed, folder: r.folder, runDir: r.runDir, action: r.action, status: r.status, ...(r.error ? { error: r.error } : {}), ...(r.metrics ? { metrics: r.metrics } : {}) });
  writeFileAtomic(path.join(dir, 'sweep.json'), JSON.stringify({
    manifest: m.file, title: m.title, split: m.split, metrics: m.metrics, updatedAt: new Date().toISOString(), runs: runs.map(strip),
  }, null, 1));
}

/** A metric of an eval metrics.json by its table name: oIoU, mIoU, or Pr@X (the `precision` map). */
export function metricValue(m: Record<string, unknown>, name: string): number | null {
  const direct = m[name];
  if (typeof direct === 'number') return direct;
  const pr = /^Pr@(.+)$/.exec(name);
  const table = m.precision as Record<string, unknown> | undefined;
  if (pr && table) {
    const v = table[pr[1]!] ?? table[String(Number(pr[1]))];
    if (typeof v === 'number') return v;
  }
  return null;
}

/** eval/<split>/metrics.json of the run's best checkpoint, computing it when absent. */
async function bestMetrics(runDir: string, split: 'val' | 'test'): Promise<Record<string, unknown>> {
  const file = path.join(runDir, 'eval', split, 'metrics.json');
  if (existsSync(file)) {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    // The trainer writes checkpoint: 'best'; `fianet eval` writes the checkpoint path. Anything else is not ours.
    const ck = String(m.checkpoint ?? '');
    if (ck === 'best' || ck.endsWith(`${path.sep}best.safetensors`) || ck === 'best.safetensors') return m;
  }
  const { runEval } = await import('../cli/eval.ts');
  return runEval({ target: runDir, split, checkpoint: 'best', gallery: 0, quiet: true, force: true });
}

export async function runSweep(manifestPath: string, o: SweepOptions = {}): Promise<SweepResult> {
  const m = readManifest(manifestPath);
  const seeds = o.seeds ?? m.seeds;
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`sweep: --seeds must be a positive integer, found ${seeds}`);
  const dir = path.join(o.experiments ?? 'experiments', 'sweeps', m.name);
  const say = (s: string) => { if (!o.quiet) console.log(s); };
  const runs = plan(m, dir, seeds, o.extraOverrides ?? []);
  for (const r of runs) say(`${r.action.padEnd(6)} ${r.row} seed ${r.seed}: ${r.runDir ?? r.folder}`);
  if (o.dryRun) return { dir, runs: runs.map(publicRun), trained: [], csv: null, markdown: null };

  saveState(dir, m, runs);
  const trained: string[] = [];
  for (const r of runs) {
    if (r.action === 'skip') continue;
    say(`\n== ${r.row}, seed ${r.seed} (${r.action}) ==`);
    try {
      const res = r.action === 'resume'
        ? await train({ resume: r.runDir!, quiet: o.quiet })
        : await train({ config: m.rows.find((x) => x.name === r.row)!.config, overrides: r.overrides, experiments: r.folder, quiet: o.quiet });
      r.runDir = res.runDir;
      r.status = 'done';
      trained.push(res.runDir);
    } catch (e) {
      r.status = 'failed';
      r.error = (e as Error).message;
      say(`${r.row} seed ${r.seed} failed: ${r.error}`);
      // A run that failed before train() returned may still have made its folder: find it for the record.
      r.runDir ??= findRun(r.folder, r.resolved).runDir;
    }
    saveState(dir, m, runs);
  }

  for (const r of runs) {
    if (r.status !== 'done' || !r.runDir) continue;
    try {
      const ev = await bestMetrics(r.runDir, m.split);
      r.metrics = Object.fromEntries(m.metrics.map((k) => [k, metricValue(ev, k)]));
    } catch (e) {
      r.status = 'failed';
      r.error = `evaluation: ${(e as Error).message}`;
      say(`${r.row} seed ${r.seed}: ${r.error}`);
    }
  }
  saveState(dir, m, runs);
  const csv = resultsCsv(m.metrics, runs);
  const markdown = resultsMarkdown(m, seeds, runs);
  writeFileAtomic(path.join(dir, 'results.csv'), csv);
  writeFileAtomic(path.join(dir, 'results.md'), markdown);
  // Curves of every run overlaid, next to the table; a plotting problem never fails a sweep.
  const done = runs.filter((r) => r.runDir && existsSync(path.join(r.runDir, 'metrics.jsonl'))).map((r) => r.runDir!);
  let curves = '';
  if (done.length) {
    try {
      await plotRuns(done, path.join(dir, 'curves'));
      curves = ', curves-{loss,lr,val}.{svg,png}';
    } catch (e) {
      say(`plotting failed: ${(e as Error).message}`);
    }
  }
  say(`\n${markdown}\nwrote ${path.join(dir, 'results.csv')}, results.md${curves}`);
  return { dir, runs: runs.map(publicRun), trained, csv, markdown };
}

function publicRun(r: SweepRun): SweepRun {
  const { row, slug, seed, folder, runDir, action, status, error, metrics } = r;
  return { row, slug, seed, folder, runDir, action, status, ...(error ? { error } : {}), ...(metrics ? { metrics } : {}) };
}

const csvCell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));

export function resultsCsv(metrics: string[], runs: SweepRun[]): string {
  const lines = [['row', 'seed', 'run_dir', 'status', ...metrics].join(',')];
  for (const r of runs) lines.push([r.row, r.seed, r.runDir ?? '', r.status, ...metrics.map((k) => r.metrics?.[k] ?? null)].map(csvCell).join(','));
  return lines.join('\n') + '\n';
}

/** Mean and sample standard deviation (n - 1); std is null for fewer than two values. */
export function meanStd(xs: number[]): { mean: number; std: number | null } | null {
  if (xs.length === 0) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return { mean, std: null };
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, std: Math.sqrt(v) };
}

/** The paper-style table: one line per row, `mean ± std` over the seeds that finished, `—` when none did. */
export function resultsMarkdown(m: Pick<SweepManifest, 'title' | 'split' | 'metrics' | 'rows'>, seeds: number, runs: SweepRun[]): string {
  const out = [`### ${m.title}`, '', `| Method | ${m.metrics.join(' | ')} |`, `|:--|${m.metrics.map(() => '--:').join('|')}|`];
  let partial = false;
  for (const row of m.rows) {
    const mine = runs.filter((r) => r.row === row.name);
    const cells = m.metrics.map((k) => {
      const xs = mine.map((r) => r.metrics?.[k]).filter((v): v is number => typeof v === 'number');
      const s = meanStd(xs);
      if (!s) return '—';
      const note = xs.length < seeds ? ` (n=${xs.length})` : '';
      if (xs.length < seeds) partial = true;
      return s.std === null ? `${s.mean.toFixed(2)}${note}` : `${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}${note}`;
    });
    out.push(`| ${row.name.replace(/\|/g, '\\|')} | ${cells.join(' | ')} |`);
  }
  out.push('', `Best checkpoints (chosen on each run's train.select_on split) evaluated on **${m.split}**; ` +
    `${seeds} seed${seeds === 1 ? '' : 's'} per row; cells are mean ± sample std over seeds${seeds === 1 ? ' (one seed: no std)' : ''}.` +
    (partial ? ' (n=k) marks rows where only k seeds finished.' : ''));
  return out.join('\n') + '\n';
}

/** The `fianet sweep` command; returns the process exit code (1 when a run failed). */
export async function cliSweep(manifest: string, o: SweepOptions = {}): Promise<number> {
  const r = await runSweep(manifest, o);
  const failed = r.runs.filter((x) => x.status === 'failed');
  for (const f of failed) console.error(`failed: ${f.row} seed ${f.seed}: ${f.error}`);
  return failed.length ? 1 : 0;
}
