// Fails when an op lacks a piece: a kernel without its CPU reference or WGSL, a differentiable op without a
// backward, or an op without a test case in cases.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MANIFEST } from '../../src/kernels/manifest.ts';
import { EW_TABLE } from '../../src/kernels/elementwise/elementwise.table.ts';
import { ALL_CASES as CASES } from './all-cases.ts';

test('every op has CPU reference, WGSL kernel, backward and a test case', () => {
  const tested = new Set(CASES.map((c) => c.op));
  const problems: string[] = [];
  for (const e of MANIFEST) {
    if (e.kind === 'kernel' && (typeof e.cpu !== 'function' || typeof e.wgsl !== 'function')) problems.push(`${e.name}: missing CPU or WGSL forward`);
    if (e.backward && !e.backward.rule && !e.backward.via && !(e.backward.cpu && e.backward.wgsl)) problems.push(`${e.name}: differentiable but no backward`);
    for (const n of e.backward?.via ?? []) if (!MANIFEST.some((x) => x.name === n)) problems.push(`${e.name}: its backward uses '${n}', which is not in the manifest`);
    if (e.backward?.cpu && !e.backward.wgsl) problems.push(`${e.name}: backward kernel has no WGSL piece`);
    if (e.backward?.wgsl && !e.backward.cpu) problems.push(`${e.name}: backward kernel has no CPU reference`);
    if (!tested.has(e.name)) problems.push(`${e.name}: no test case`);
  }
  assert.equal(problems, []);
});

test('the manifest covers every table entry and every tested op', () => {
  const names = new Set(MANIFEST.map((e) => e.name));
  for (const n of EW_TABLE.keys()) assert.ok(names.has(n), `${n} missing from the manifest`);
  for (const c of CASES) assert.ok(names.has(c.op), `case for unknown op ${c.op}`);
  assert.is(names.size, MANIFEST.length, 'duplicate manifest names');
});

test.run();
