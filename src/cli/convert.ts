// `fianet convert IN OUT.safetensors`: PyTorch `.pth`/`.bin` (zip or legacy) or safetensors in, our safetensors out,
// with the FIANET.md §15.6 key mapping when the kind asks for it. The input container is sniffed from its bytes and
// the kind detected from its keys (never from the file name, STYLE.md 13). Tensors keep their on-disk dtype.
import path from 'node:path';
import { MODEL_CONFIG_KEY, readSafetensors, sniffWeightsFormat, writeSafetensors, type LoadedTensor, type WeightDType, type WritableTensor } from '../io/safetensors.ts';
import { findStateDict, openTorchFile } from '../io/torch-load.ts';
import { mapPretrained, type PretrainedKind } from '../io/pretrained.ts';

export interface ConvertOptions {
  kind?: PretrainedKind | 'auto';
  /** Resolved model config (JSON text) stored under `fianet.model_config`. */
  config?: string;
  /** Top-level key of the state dict in a torch file (default: found automatically). */
  key?: string;
  /** Where the summary goes (default console.log; pass () => {} for silence). */
  log?: (line: string) => void;
}

export interface ConvertSummary {
  input: string;
  output: string;
  format: string;
  kind: PretrainedKind;
  tensors: number;
  /** Elements over all floating-point tensors (parameters and float buffers). */
  parameters: number;
  dtypes: Partial<Record<WeightDType, number>>;
  ignored: string[];
  unmatched: string[];
}

/** JSON for provenance metadata: Maps become objects, tensors a shape note, bigints strings. */
function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (typeof x === 'bigint') return x.toString();
    if (x instanceof Map) return Object.fromEntries([...x.entries()].map(([k, y]) => [String(k), y]));
    if (x instanceof Set) return [...x];
    if (x instanceof Uint8Array) return `<${x.length} bytes>`;
    if (x && typeof x === 'object' && 'shape' in x && 'data' in x) return `<tensor ${JSON.stringify(x.shape)}>`;
    return x;
  });
}

export async function convert(inPath: string, outPath: string, opts: ConvertOptions = {}): Promise<ConvertSummary> {
  const log = opts.log ?? ((l: string) => console.log(l));
  let modelConfig: string | undefined;
  if (opts.config !== undefined) {
    try {
      modelConfig = JSON.stringify(JSON.parse(opts.config));
    } catch (err) {
      throw new Error(`convert: --config is not valid JSON: ${(err as Error).message}`);
    }
  }
  const format = await sniffWeightsFormat(inPath);
  let sd: Map<string, LoadedTensor>;
  const metadata: Record<string, string> = {};
  if (format === 'safetensors') {
    const r = await readSafetensors(inPath);
    sd = r.tensors;
    Object.assign(metadata, r.metadata);
  } else {
    const f = await openTorchFile(inPath);
    try {
      sd = (await f.materialize(findStateDict(inPath, f.root, opts.key))) as Map<string, LoadedTensor>;
      // The official training checkpoint stores its argparse namespace: keep it as provenance.
      const args = f.root instanceof Map ? f.root.get('args') : undefined;
      if (args && typeof args === 'object') metadata['fianet.source_args'] = toJson(args);
    } finally {
      await f.close();
    }
  }
  const { kind, mapped, report } = mapPretrained(sd, opts.kind ?? 'auto');
  metadata['fianet.converted_from'] = `${path.basename(inPath)} (${format}, kind ${kind})`;
  if (modelConfig !== undefined) metadata[MODEL_CONFIG_KEY] = modelConfig;

  const out = new Map<string, WritableTensor>();
  const dtypes: Partial<Record<WeightDType, number>> = {};
  let parameters = 0;
  for (const [k, t] of mapped) {
    out.set(k, { shape: t.shape, dtype: t.dtype, data: t.data });
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F64') parameters += t.data.length;
  }
  await writeSafetensors(outPath, out, metadata);

  const summary: ConvertSummary = {
    input: inPath, output: outPath, format, kind, tensors: out.size, parameters, dtypes,
    ignored: report.ignored, unmatched: report.unmatched,
  };
  log(`convert: ${inPath} (${format}) -> ${outPath}, kind ${kind}`);
  log(`  ${out.size} tensors, ${parameters.toLocaleString('en-US')} floating-point values; dtypes ${Object.entries(dtypes).map(([d, n]) => `${d}×${n}`).join(' ')}`);
  if (report.ignored.length) log(`  ignored (${report.ignored.length}): ${report.ignored.join(', ')}`);
  if (report.unmatched.length) log(`  dropped, no mapping rule (${report.unmatched.length}): ${report.unmatched.join(', ')}`);
  if (modelConfig === undefined) log('  no model config given (--config): the file will not carry its architecture');
  return summary;
}
