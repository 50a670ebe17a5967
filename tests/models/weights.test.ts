// Checkpoints of the model: our safetensors round trip restores every tensor; a checkpoint of another
// architecture is refused with the differing config keys; the load report lists missing and unexpected keys.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadFianetConfig } from '../../src/config/index.ts';
import { FIANet } from '../../src/models/fianet/model.ts';
import { loadCheckpoint } from '../../src/models/fianet/weights.ts';
import { checkpointMetadata, saveStateDict } from '../../src/io/safetensors.ts';

const tiny = () => loadFianetConfig('configs/synthetic/fianet-tiny.yaml', ['model.text.vocab_size=200', 'model.num_tmem=1']);

test('safetensors checkpoint round trip restores every parameter and buffer', async () => {
  const c = tiny();
  const a = new FIANet(c.model, { device: 'cpu', seed: 1 });
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fianet-ckpt-')), 'model.safetensors');
  await saveStateDict(file, a, checkpointMetadata(c.model));
  const b = new FIANet(c.model, { device: 'cpu', seed: 2 });
  const r = await loadCheckpoint(b, file);
  assert.equal([r.missing, r.unexpected, r.mismatched], [[], [], []]);
  const sa = a.stateDict();
  for (const [k, t] of b.stateDict()) {
    assert.equal(Array.from(t.storage.cpu!), Array.from(sa.get(k)!.storage.cpu!), k);
  }
});

test('a checkpoint of a different architecture is refused, naming the differences', async () => {
  const c = tiny();
  const a = new FIANet(c.model, { device: 'cpu', skipInit: true });
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fianet-ckpt-')), 'model.safetensors');
  await saveStateDict(file, a, checkpointMetadata(c.model));
  const other = loadFianetConfig('configs/synthetic/fianet-tiny.yaml', ['model.text.vocab_size=200', 'model.num_tmem=2']);
  const b = new FIANet(other.model, { device: 'cpu', skipInit: true });
  try {
    await loadCheckpoint(b, file);
    assert.unreachable('loaded a checkpoint of another architecture');
  } catch (e) {
    assert.match((e as Error).message, /trained with a different architecture than requested: num_tmem: checkpoint 1, requested 2/);
  }
});

test('missing checkpoint file is a clear error', async () => {
  const b = new FIANet(tiny().model, { device: 'cpu', skipInit: true });
  try {
    await loadCheckpoint(b, '/nonexistent/model.safetensors');
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /checkpoint: \/nonexistent\/model\.safetensors does not exist/);
  }
});

test.run();
