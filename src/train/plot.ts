// `fianet plot RUN_DIR...`: training curves of one or several runs, overlaid, as hand-written SVG plus PNG copies
// rasterized by sharp (librsvg): <prefix>-loss (raw loss faint, an exponential moving average bold, vs step),
// <prefix>-lr (learning rate vs step) and <prefix>-val (oIoU solid and mIoU dashed vs epoch, from the rows of the
// split that chose the best checkpoint).
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { listRuns, writeFileAtomic } from './run-dir.ts';

export interface MetricRow { type: string; epoch: number; step: number; [k: string]: number | string | null }

/** metrics.jsonl of a run (a missing file is an empty list; a torn last line is dropped). */
export function readMetrics(runDir: string): MetricRow[] {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!existsSync(file)) return [];
  const out: MetricRow[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as MetricRow);
    } catch {
      // A crash mid-append leaves a partial last line; the rows before it are intact.
    }
  }
  return out;
}

/** Short labels telling runs apart: the path segments after their common prefix, less the run-folder stamp ("w-o-tmem/seed0"). */
export function runLabels(runDirs: string[]): string[] {
  const parts = runDirs.map((d) => path.resolve(d).split(path.sep));
  if (parts.length === 1) return [parts[0]!.slice(-2).join('/')];
  let common = 0;
  while (parts.every((p) => p[common] !== undefined && p[common] === parts[0]![common])) common++;
  let rest = parts.map((p) => p.slice(common));
  const unique = (xs: string[][]) => new Set(xs.map((p) => p.join('/'))).size === xs.length;
  // Drop the trailing <time>-<sha> folder, then segments all runs share at the end (the config name inside a
  // sweep's seed folders), while the labels still tell the runs apart: "w-o-tmem/seed0".
  if (rest.every((p) => p.length > 1) && unique(rest.map((p) => p.slice(0, -1)))) rest = rest.map((p) => p.slice(0, -1));
  while (rest.every((p) => p.length > 1 && p[p.length - 1] === rest[0]![rest[0]!.length - 1]) && unique(rest.map((p) => p.slice(0, -1)))) {
    rest = rest.map((p) => p.slice(0, -1));
  }
  return rest.map((p) => p.join('/'));
}

/** 1, 2, 5 × 10^k ticks covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    const pad = Math.abs(hi) > 0 ? Math.abs(hi) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 0.5; v += step) out.push(+v.toPrecision(12));
  if (out[out.length - 1]! < hi) out.push(+(out[out.length - 1]! + step).toPrecision(12));
  return out;
}

/** Tick labels of one axis in one format: fixed decimals from the tick step, or exponents for tiny/huge values. */
export function tickLabels(ticks: number[]): string[] {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 1;
  const top = Math.max(...ticks.map(Math.abs));
  if (top > 0 && (top < 1e-2 || top >= 1e5)) {
    const digits = Math.max(0, Math.min(4, Math.floor(Math.log10(top)) - Math.floor(Math.log10(step))));
    return ticks.map((v) => (v === 0 ? '0' : v.toExponential(digits).replace('e+', 'e')));
  }
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return ticks.map((v) => v.toFixed(decimals));
}

// A colour-blind-safe palette (Okabe-Ito), cycled.
const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export interface Series { label: string; color: string; points: [number, number][]; width?: number; opacity?: number; dash?: string; legend?: boolean }

export interface ChartSpec { title: string; xLabel: string; yLabel: string; series: Series[]; note?: string }

/** One line chart as a standalone SVG document: axes with ticks and labels, a title and a legend. */
export function lineChartSvg(c: ChartSpec, width = 720, height = 420): string {
  const legend = c.series.filter((s) => s.legend !== false);
  const legendRows = legend.length + (c.note ? 1 : 0);
  const m = { left: 72, right: 20, top: 36, bottom: 52 + 16 * legendRows };
  const W = width - m.left - m.right;
  const H = height - m.top - m.bottom;
  const pts = c.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const xt = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1);
  const yt = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1);
  const [x0, x1] = [xt[0]!, xt[xt.length - 1]!];
  const [y0, y1] = [yt[0]!, yt[yt.length - 1]!];
  const X = (v: number) => m.left + ((v - x0) / (x1 - x0 || 1)) * W;
  const Y = (v: number) => m.top + H - ((v - y0) / (y1 - y0 || 1)) * H;
  const o: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(c.title)}</text>`,
  ];
  const yl = tickLabels(yt);
  const xl = tickLabels(xt);
  for (const [i, t] of yt.entries()) {
    o.push(`<line x1="${m.left}" x2="${m.left + W}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${m.left - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end">${yl[i]}</text>`);
  }
  for (const [i, t] of xt.entries()) {
    o.push(`<line x1="${X(t).toFixed(1)}" x2="${X(t).toFixed(1)}" y1="${m.top + H}" y2="${m.top + H + 5}" stroke="#333"/>`);
    o.push(`<text x="${X(t).toFixed(1)}" y="${m.top + H + 18}" text-anchor="middle">${xl[i]}</text>`);
  }
  o.push(`<rect x="${m.left}" y="${m.top}" width="${W}" height="${H}" fill="none" stroke="#333"/>`);
  o.push(`<text x="${m.left + W / 2}" y="${m.top + H + 36}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  o.push(`<text transform="translate(18 ${m.top + H / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  for (const s of c.series) {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (!p.length) continue;
    const style = `stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-opacity="${s.opacity ?? 1}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}`;
    if (p.length === 1) {
      o.push(`<circle cx="${X(p[0]![0]).toFixed(1)}" cy="${Y(p[0]![1]).toFixed(1)}" r="3" fill="${s.color}" fill-opacity="${s.opacity ?? 1}"/>`);
    } else {
      o.push(`<polyline fill="none" ${style} points="${p.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`);
    }
  }
  if (!pts.length) o.push(`<text x="${m.left + W / 2}" y="${m.top + H / 2}" text-anchor="middle" fill="#888">no logged points (see train.log_every)</text>`);
  let ly = m.top + H + 52;
  for (const s of legend) {
    o.push(`<line x1="${m.left}" x2="${m.left + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="${s.width ?? 2}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    o.push(`<text x="${m.left + 36}" y="${ly}">${esc(s.label)}</text>`);
    ly += 16;
  }
  if (c.note) o.push(`<text x="${m.left}" y="${ly}" fill="#555">${esc(c.note)}</text>`);
  o.push('</svg>');
  return o.join('\n') + '\n';
}

/** Exponential moving average, debiased like TensorBoard's smoothing so the first points are not pulled to 0. */
export function smooth(ys: number[], alpha = 0.9): number[] {
  let acc = 0;
  return ys.map((y, i) => {
    acc = alpha * acc + (1 - alpha) * y;
    return acc / (1 - alpha ** (i + 1));
  });
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

/** The three charts of a set of runs, as SVG text keyed by chart name (loss, lr, val). */
export function chartsFor(runDirs: string[]): Record<'loss' | 'lr' | 'val', string> {
  const labels = runLabels(runDirs);
  const rows = runDirs.map(readMetrics);
  const height = 420 + 16 * Math.max(0, runDirs.length - 2);
  const loss: Series[] = [];
  const lr: Series[] = [];
  const val: Series[] = [];
  const evalTypes = new Set<string>();
  rows.forEach((rs, i) => {
    const color = COLORS[i % COLORS.length]!;
    const tr = rs.filter((r) => r.type === 'train');
    const steps = tr.map((r) => r.step);
    const l = tr.map((r) => num(r.loss));
    loss.push({ label: `${labels[i]} (raw)`, color, points: steps.map((s, k) => [s, l[k]!]), width: 1, opacity: 0.25, legend: false });
    const sm = smooth(l);
    loss.push({ label: labels[i]!, color, points: steps.map((s, k) => [s, sm[k]!]) });
    lr.push({ label: labels[i]!, color, points: tr.map((r) => [r.step, num(r.lr)]) });
    // Validation rows are the split that chose the best checkpoint: 'val' unless train.select_on said 'test'.
    const types = new Set(rs.filter((r) => r.type !== 'train').map((r) => r.type));
    const t = types.has('val') ? 'val' : [...types][0];
    if (t === undefined) return;
    evalTypes.add(t);
    const ev = rs.filter((r) => r.type === t);
    val.push({ label: `${labels[i]} oIoU`, color, points: ev.map((r) => [r.epoch, num(r.oIoU)]) });
    val.push({ label: `${labels[i]} mIoU`, color, points: ev.map((r) => [r.epoch, num(r.mIoU)]), dash: '6 4' });
  });
  return {
    loss: lineChartSvg({ title: 'Training loss', xLabel: 'step', yLabel: 'loss (CE + Dice)', series: loss, note: 'faint: logged steps; bold: moving average (0.9)' }, 720, height),
    lr: lineChartSvg({ title: 'Learning rate', xLabel: 'step', yLabel: 'learning rate (group 0)', series: lr }, 720, height),
    val: lineChartSvg({ title: `Validation (${[...evalTypes].join(', ') || 'no evaluation rows'})`, xLabel: 'epoch', yLabel: 'IoU (%)', series: val, note: 'solid: oIoU, dashed: mIoU' }, 720, height + 16 * runDirs.length),
  };
}

/** Writes <outPrefix>-{loss,lr,val}.{svg,png}; returns the paths written. */
export async function plotRuns(runDirs: string[], outPrefix: string): Promise<string[]> {
  if (runDirs.length === 0) throw new Error('plot: no run folders given');
  for (const d of runDirs) {
    if (!existsSync(path.join(d, 'metrics.jsonl'))) throw new Error(`plot: ${d} has no metrics.jsonl (not a run folder, or no logged step yet)`);
  }
  const charts = chartsFor(runDirs);
  const written: string[] = [];
  for (const [name, svg] of Object.entries(charts)) {
    const file = `${outPrefix}-${name}`;
    writeFileAtomic(`${file}.svg`, svg);
    // density 144 renders the 72-dpi SVG at twice its size: sharp text in slides.
    writeFileAtomic(`${file}.png`, await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer());
    written.push(`${file}.svg`, `${file}.png`);
  }
  return written;
}

/** Run folders from arguments that are run folders or folders holding runs (a sweep, an experiments tree). */
export function expandRunDirs(targets: string[]): string[] {
  const out: string[] = [];
  for (const t of targets) {
    if (!existsSync(t) || !statSync(t).isDirectory()) throw new Error(`plot: ${t} is not a folder`);
    if (existsSync(path.join(t, 'config.yaml'))) out.push(t);
    else {
      const found = listRuns(t).filter((d) => existsSync(path.join(d, 'metrics.jsonl'))).sort();
      if (!found.length) throw new Error(`plot: no run folders with metrics.jsonl under ${t}`);
      out.push(...found);
    }
  }
  return out;
}

/** The `fianet plot` command: default prefix <run>/plots/curves for one run, ./curves otherwise. */
export async function cliPlot(targets: string[], o: { out?: string; quiet?: boolean } = {}): Promise<string[]> {
  const runs = expandRunDirs(targets);
  const prefix = o.out ?? (runs.length === 1 ? path.join(runs[0]!, 'plots', 'curves') : 'curves');
  const files = await plotRuns(runs, prefix);
  if (!o.quiet) console.log(`plotted ${runs.length} run${runs.length === 1 ? '' : 's'}: ${files.join(', ')}`);
  return files;
}
