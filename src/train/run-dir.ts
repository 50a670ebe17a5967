// The run folder, the unit of reproducibility: experiments/<config name>/<time>-<gitsha>/ holding the resolved
// config, env.json (Node, packages, git state, adapter and limits), train.log, metrics.csv/.jsonl and
// checkpoints/. Files are written to a temporary name and renamed, so a crash never leaves a half-written file.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, appendFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export interface GitState {
  sha: string | null;
  dirty: boolean | null;
  branch: string | null;
}

export function gitState(cwd = process.cwd()): GitState {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      return null;
    }
  };
  const sha = git('rev-parse', '--short=8', 'HEAD');
  const status = git('status', '--porcelain', '--untracked-files=no');
  return { sha, dirty: status === null ? null : status.length > 0, branch: git('rev-parse', '--abbrev-ref', 'HEAD') };
}

function packageVersions(root: string): Record<string, string> {
  try {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const out: Record<string, string> = {};
    for (const name of Object.keys(pkg.dependencies ?? {})) {
      try {
        out[name] = (JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
      } catch {
        out[name] = 'missing';
      }
    }
    return out;
  } catch {
    return {};
  }
}

export function environment(root: string, adapter: unknown): Record<string, unknown> {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    packages: packageVersions(root),
    git: gitState(root),
    adapter,
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('FIANET_'))),
    startedAt: new Date().toISOString(),
  };
}

/** A new run folder name: <UTC yyyymmdd-HHMMSS>-<git sha or 'nogit'>, unique within the parent. */
export function newRunDir(experiments: string, configName: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const sha = gitState().sha ?? 'nogit';
  const base = path.join(experiments, configName, `${stamp}-${sha}`);
  let dir = base;
  for (let i = 1; existsSync(dir); i++) dir = `${base}-${i}`;
  mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  return dir;
}

/** Appends log lines and metric rows; the CSV header is the union of keys seen at the first row. */
export class RunLog {
  private csvKeys: string[] | null = null;
  constructor(readonly dir: string, readonly echo = true) {
    const csv = path.join(dir, 'metrics.csv');
    if (existsSync(csv)) this.csvKeys = readFileSync(csv, 'utf8').split('\n')[0]!.split(',');
  }

  line(msg: string): void {
    const stamped = `${new Date().toISOString()} ${msg}`;
    appendFileSync(path.join(this.dir, 'train.log'), stamped + '\n');
    if (this.echo) console.log(msg);
  }

  metrics(row: Record<string, number | string | null>): void {
    appendFileSync(path.join(this.dir, 'metrics.jsonl'), JSON.stringify(row) + '\n');
    const file = path.join(this.dir, 'metrics.csv');
    if (!this.csvKeys) {
      this.csvKeys = Object.keys(row);
      appendFileSync(file, this.csvKeys.join(',') + '\n');
    }
    appendFileSync(file, this.csvKeys.map((k) => (row[k] === undefined || row[k] === null ? '' : String(row[k]))).join(',') + '\n');
  }
}

export function listRuns(experiments: string): string[] {
  if (!existsSync(experiments)) return [];
  return readdirSync(experiments, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name === 'config.yaml')
    .map((d) => d.parentPath ?? (d as unknown as { path: string }).path);
}
