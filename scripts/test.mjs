#!/usr/bin/env node
// Runs the uvu suites under tests/ (TypeScript through tsx) and closes with the plain
// "N passed, N failed" line CI reads. Usage: node scripts/test.mjs [filename-regex]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const pattern = process.argv[2] ?? '\\.test\\.ts$';
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');
const child = spawn(process.execPath, ['--import', 'tsx', uvu, 'tests', pattern], {
  cwd: root,
  env: { XDG_RUNTIME_DIR: '/tmp', ...process.env },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
child.on('close', (code) => {
  const clean = out.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(clean)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(clean)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(clean)?.[1] ?? 0);
  let failed = total - passed - skipped;
  // A suite that crashed on import reports nothing: count it as one failure rather than a pass.
  if (code !== 0 && failed === 0) failed = 1;
  if (total === 0 && code === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed > 0 ? 1 : 0);
});
