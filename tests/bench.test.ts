// `fianet bench`: the runner's selection, its rounds (median round with ms_min/ms_max) and bad input, on the cpu
// device with the cheapest benchmark (timings themselves are never asserted: benchmarks measure, tests check).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runBench } from '../src/cli/bench.ts';

const quiet = async <T>(fn: () => Promise<T>): Promise<T> => {
  const log = console.log;
  console.log = () => {};
  try {
    return await fn();
  } finally {
    console.log = log;
  }
};

test('one round reports each selected benchmark once; rounds report the median round with its spread', async () => {
  const one = await quiet(() => runBench(['dispatch_overhead'], true, 'cpu'));
  assert.is(one.length, 1);
  assert.is(one[0]!.bench, 'dispatch_overhead');
  assert.is(one[0]!.rounds, undefined);
  const three = await quiet(() => runBench(['dispatch_overhead'], true, 'cpu', false, 3));
  assert.is(three.length, 1);
  const r = three[0]!;
  assert.is(r.rounds, 3);
  assert.ok((r.ms_min as number) <= r.ms && r.ms <= (r.ms_max as number), `${r.ms_min} <= ${r.ms} <= ${r.ms_max}`);
});

test('bad input: unknown benchmark names and non-positive rounds are refused by name', async () => {
  await quiet(async () => {
    try {
      await runBench(['no_such_bench'], true, 'cpu');
      assert.unreachable('an unknown benchmark ran');
    } catch (e) {
      assert.match((e as Error).message, /unknown benchmark 'no_such_bench'; choose from .*dispatch_overhead/);
    }
    try {
      await runBench(['dispatch_overhead'], true, 'cpu', false, 0);
      assert.unreachable('rounds 0 ran');
    } catch (e) {
      assert.match((e as Error).message, /--rounds must be a positive integer, found 0/);
    }
  });
});

test.run();
