import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatMetrics, intersectionUnion, iouOf, MetricAccumulator } from '../../src/data/metrics.ts';

const mask = (w: number, h: number, bits: number[]) => ({ width: w, height: h, data: Uint8Array.from(bits) });
const rec = (refId: number, sentence: string, category = '') => ({ refId, sentId: refId, sentence, category });
const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} vs ${b}`);

test('I, U and IoU by hand, IoU = 0 when U = 0', () => {
  assert.equal(intersectionUnion(Uint8Array.from([1, 1, 0, 0]), Uint8Array.from([1, 0, 1, 0])), { I: 1, U: 3 });
  assert.equal(intersectionUnion(new Uint8Array(4), new Uint8Array(4)), { I: 0, U: 0 });
  assert.is(iouOf(0, 0), 0);
  assert.is(iouOf(2, 4), 0.5);
});

test('oIoU, mIoU and Pr@X with inclusive thresholds', () => {
  const acc = new MetricAccumulator();
  // IoU 1/2 exactly -> counts for Pr@0.5 under >= but not >.
  acc.add(mask(2, 2, [1, 1, 0, 0]), mask(2, 2, [1, 0, 0, 0]), rec(1, 'a'));
  // IoU 4/5 = 0.8 exactly.
  acc.add(mask(5, 1, [1, 1, 1, 1, 1]), mask(5, 1, [1, 1, 1, 1, 0]), rec(2, 'b'));
  // Empty prediction and empty GT: U = 0, IoU = 0, adds nothing to the sums.
  acc.add(mask(2, 1, [0, 0]), mask(2, 1, [0, 0]), rec(3, 'c'));
  // Miss: I = 0, U = 3.
  acc.add(mask(3, 1, [1, 1, 0]), mask(3, 1, [0, 0, 1]), rec(4, 'd'));
  const r = acc.result();
  assert.is(r.count, 4);
  assert.is(r.sumI, 1 + 4 + 0 + 0);
  assert.is(r.sumU, 2 + 5 + 0 + 3);
  close(r.oIoU, 50);
  close(r.mIoU, (100 * (0.5 + 0.8)) / 4);
  close(r.precision['0.5']!, 50);
  close(r.precision['0.6']!, 25);
  close(r.precision['0.8']!, 25);
  close(r.precision['0.9']!, 0);
  assert.is(r.protocol, 'network');
  assert.is(r.precisionOp, '>=');

  const strict = new MetricAccumulator({ precisionOp: '>' });
  strict.add(mask(2, 2, [1, 1, 0, 0]), mask(2, 2, [1, 0, 0, 0]), rec(1, 'a'));
  close(strict.result().precision['0.5']!, 0);
  assert.match(formatMetrics(r), /oIoU=50\.00/);
});

test('per-class breakdown by case-sensitive sentence match, and by record category', () => {
  const acc = new MetricAccumulator({ dataset: 'refsegrs' });
  acc.addCounts(1, 2, rec(1, 'road marking', 'road marking'));
  acc.addCounts(1, 1, rec(2, 'car along the road', 'car'));
  acc.addCounts(0, 1, rec(3, 'Road', 'road'));
  const r = acc.result();
  // 'road' matches samples 1 and 2 (substring), not 'Road'.
  assert.is(r.perClass['road']!.count, 2);
  close(r.perClass['road']!.mIoU, 75);
  assert.is(r.perClass['road marking']!.count, 1);
  assert.is(r.perClass['car']!.count, 1);
  assert.is(r.perClass['tree'], undefined);
  assert.is(r.perCategory['road']!.count, 1);
  close(r.perCategory['road']!.oIoU, 0);
});

test("protocol 'network' resizes GT to the prediction, 'original' resizes the prediction", () => {
  // GT 4x4 with the left half set; prediction 2x2 with the left column set.
  const gt = mask(4, 4, [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  const pred = mask(2, 2, [1, 0, 1, 0]);
  const net = new MetricAccumulator({ protocol: 'network' });
  assert.equal(net.add(pred, gt, rec(1, 'x')).I, 2);
  const orig = new MetricAccumulator({ protocol: 'original' });
  const s = orig.add(pred, gt, rec(1, 'x'));
  assert.equal([s.I, s.U], [8, 8]);
  assert.is(orig.result().protocol, 'original');
});

test.run();
