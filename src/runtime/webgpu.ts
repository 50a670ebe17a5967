// The WebGPU runtime: one adapter/device per process, a buffer pool, a pipeline cache keyed by kernel and
// variant, cached bind groups, and many dispatches per submit. Shapes travel in a uniform ring (one 256-byte
// slot per dispatch), so the WGSL text of a kernel never depends on a shape and a training step compiles
// nothing after its first iteration. Bind group 0 holds a kernel's storage buffers (bindings 1..n, cached per
// buffer set); group 1 holds its uniform slot, one static bind group per ring slot shared by every kernel.
// Why not one group with a dynamic offset: on lavapipe a dynamic offset costs ≈25 µs per dispatch (39 vs
// 17 µs for an empty kernel), switching between static bind groups almost nothing.
import v8 from 'node:v8';
import vm from 'node:vm';
import { create, globals } from 'webgpu';
import { BufferPool, type PoolStats } from './buffer-pool.ts';
import { DEBUG, debugLog } from './debug.ts';
import { waitForDevice, yieldsWhileWaiting } from './gpu-wait.ts';

export const UNIFORM_SLOT = 256;
const RING_BYTES = 1 << 20; // 4096 dispatches per submit before a forced flush
const FLUSH_EVERY = Number(process.env.FIANET_FLUSH_EVERY ?? 64);

export type Access = 'read' | 'rw';

export interface KernelSpec {
  /** Cache key: kernel name plus every variant choice baked into the text (never a shape). */
  key: string;
  /** Storage bindings 1..n in order; binding 0 is the uniform slot. */
  bindings: readonly Access[];
  /** Builds the WGSL once, on the first dispatch. */
  code: () => string;
}

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
  subgroupSize: number;
  variant: 'subgroup' | 'tiled';
}

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Bind groups kept before an eviction (well under the ~65k live descriptor sets lavapipe survives). */
const BIND_GROUP_CACHE = Number(process.env.FIANET_BIND_GROUP_CACHE ?? 16384);

let gcFn: (() => void) | null = null;
/** A full garbage collection (V8's gc, exposed at run time). */
function collectGarbage(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}

let gpuInstance: unknown = null; // held for the life of the process: webgpu 0.6.2 lifetime bug (PERF-NOTES.md)

export class WebGPURuntime {
  readonly pool: BufferPool;
  private pipelines = new Map<string, Pipeline>();
  private bindGroups = new Map<string, GPUBindGroup>();
  private ring: GPUBuffer;
  private ringLayout: GPUBindGroupLayout;
  private ringGroups: GPUBindGroup[] = []; // slot i's bind group, made on first use
  private ringData = new ArrayBuffer(RING_BYTES);
  private ringWords = new Uint32Array(this.ringData);
  private ringUsed = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingError: Error | null = null;
  private lost: string | null = null;
  private lastOp = '';
  private staging: GPUBuffer[] = [];
  private profiler: Profiler | null = null;
  /** Dispatches recorded since creation: benchmarks and the trainer report dispatches per step from it. */
  dispatches = 0;
  private pendingDispatches = 0;
  /** Dispatches and their workgroups since the last wait on the device (what that wait waits for). */
  private unwaitedDispatches = 0;
  private unwaitedGroups = 0;
  submits = 0;
  compiles = 0;
  /** Bind groups created since start (each a Vulkan descriptor set on lavapipe; see bindGroupFor). */
  bindGroupsCreated = 0;

  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly report: AdapterReport,
  ) {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.pool = new BufferPool(device, usage, (b) => this.forgetBuffer(b));
    this.ring = device.createBuffer({ size: RING_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.ringLayout = device.createBindGroupLayout({
      label: 'uniform_slot',
      entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', minBindingSize: UNIFORM_SLOT } }],
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.pendingError ??= new Error(`webgpu error after op '${this.lastOp}': ${e.message}`);
    });
    void device.lost.then((info) => {
      this.lost = `${info.reason}: ${info.message}`;
    });
  }

  static async create(): Promise<WebGPURuntime> {
    Object.assign(globalThis, globals);
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    gpuInstance ??= create([]);
    const gpu = gpuInstance as GPU;
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      throw new Error(
        'webgpu: no adapter found. On Debian 12 install Mesa 25 lavapipe from bookworm-backports ' +
          '(apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1), or set FIANET_DEVICE=cpu.',
      );
    }
    const wanted: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];
    const features = wanted.filter((f) => adapter.features.has(f));
    // Request the adapter's real limits: the defaults (e.g. 128 MiB bindings, 256 invocations) are lower.
    const requiredLimits: Record<string, number> = {};
    for (const k of LIMIT_NAMES) {
      const v = (adapter.limits as unknown as Record<string, number>)[k];
      if (typeof v === 'number') requiredLimits[k] = v;
    }
    const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
    const info = adapter.info;
    const isFallback = Boolean((adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter) ||
      info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(info.description + info.device);
    const report: AdapterReport = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: isFallback,
      features: [...adapter.features].map(String).sort(),
      limits: requiredLimits,
      subgroupSize: 0,
      variant: 'tiled',
    };
    const rt = new WebGPURuntime(adapter, device, report);
    if (features.includes('subgroups')) report.subgroupSize = await rt.probeSubgroupSize();
    const forced = process.env.FIANET_VARIANT;
    // llvmpipe: barriers are coroutine switches, so shared-memory tiling is slow and subgroup broadcast wins;
    // on real GPUs shared-memory tiling is the standard fast path (PERF-NOTES.md).
    report.variant = forced === 'subgroup' || forced === 'tiled'
      ? forced
      : isFallback && report.subgroupSize > 0 ? 'subgroup' : 'tiled';
    if (report.variant === 'subgroup' && report.subgroupSize === 0) report.variant = 'tiled';
    return rt;
  }

  /** Whether the next wait sleeps between polls (gpu-wait.ts), from the work since the last wait; resets that count. */
  private takeYieldDecision(): boolean {
    const y = yieldsWhileWaiting(this.report.isFallbackAdapter, this.unwaitedDispatches, this.unwaitedGroups);
    this.unwaitedDispatches = 0;
    this.unwaitedGroups = 0;
    return y;
  }

  get hasF16(): boolean {
    return this.report.features.includes('shader-f16');
  }

  /** The largest storage binding a dispatch may use: the adapter's limit, or a lower test override. */
  get maxBindingBytes(): number {
    const adapter = this.report.limits.maxStorageBufferBindingSize ?? 128 << 20;
    return this.bindingLimitOverride === null ? adapter : Math.min(adapter, this.bindingLimitOverride);
  }

  private bindingLimitOverride: number | null = null;

  /** Lowers the binding limit (tests exercise the split paths of kernels/split.ts with small tensors); null restores it. */
  setBindingLimit(bytes: number | null): void {
    this.bindingLimitOverride = bytes;
  }

  /** Byte alignment of a bound range's offset. */
  get bindingAlignment(): number {
    return this.report.limits.minStorageBufferOffsetAlignment ?? 256;
  }

  private get maxWorkgroups(): number {
    return this.report.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  }

  private async probeSubgroupSize(): Promise<number> {
    const buf = this.pool.acquire(16);
    this.dispatch(
      {
        key: 'probe_subgroup_size',
        bindings: ['rw'],
        code: () => `enable subgroups;
@group(1) @binding(0) var<uniform> u: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(subgroup_size) s: u32, @builtin(local_invocation_index) i: u32) {
  if (i == 0u) { out[0] = s + u.x; }
}`,
      },
      [buf],
      new Uint32Array(4),
      [1, 1, 1],
      'probe',
    );
    const out = new Uint32Array(await this.read(buf, 0, 4));
    this.pool.release(buf);
    return out[0]!;
  }

  private pipelineFor(spec: KernelSpec): Pipeline {
    let p = this.pipelines.get(spec.key);
    if (p) return p;
    const t0 = performance.now();
    const code = spec.code();
    if (DEBUG >= 3) debugLog(3, `WGSL ${spec.key}\n${code}`);
    if (!/@group\(1\)\s*@binding\(0\)\s*var<uniform>/.test(code)) {
      throw new Error(`kernel ${spec.key}: its uniforms must be declared as @group(1) @binding(0) var<uniform> (the ring slot)`);
    }
    const entries: GPUBindGroupLayoutEntry[] = spec.bindings.map((a, i) => ({
      binding: i + 1,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: a === 'read' ? ('read-only-storage' as const) : ('storage' as const) },
    }));
    const layout = this.device.createBindGroupLayout({ label: spec.key, entries });
    const module = this.device.createShaderModule({ label: spec.key, code });
    const pipeline = this.device.createComputePipeline({
      label: spec.key,
      layout: this.device.createPipelineLayout({ label: spec.key, bindGroupLayouts: [layout, this.ringLayout] }),
      compute: { module, entryPoint: 'main' },
    });
    p = { pipeline, layout };
    this.pipelines.set(spec.key, p);
    this.compiles++;
    debugLog(2, `compiled ${spec.key} in ${(performance.now() - t0).toFixed(1)} ms (cache ${this.pipelines.size})`);
    return p;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /**
   * Records one dispatch. `uniforms` (≤ 256 bytes) land in this dispatch's slot of the ring. Nothing is
   * submitted until flush() (or the ring fills), so an op never waits on the GPU.
   */
  dispatch(spec: KernelSpec, buffers: (GPUBuffer | GPUBufferBinding)[], uniforms: ArrayBufferView, grid: [number, number, number], op: string): void {
    this.checkHealthy();
    if (uniforms.byteLength > UNIFORM_SLOT) throw new Error(`${op}: uniforms of ${uniforms.byteLength} bytes exceed ${UNIFORM_SLOT}`);
    const [gx, gy, gz] = grid;
    const maxWg = this.maxWorkgroups;
    if (gx > maxWg || gy > maxWg || gz > maxWg) throw new Error(`${op}: grid ${grid.join('x')} exceeds ${maxWg} workgroups per dimension`);
    if (gx === 0 || gy === 0 || gz === 0) return;
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i]!;
      const size = 'buffer' in b ? b.size! : b.size;
      if (size > this.maxBindingBytes) {
        throw new Error(`${op}: a ${size}-byte binding exceeds the adapter's binding limit of ${this.maxBindingBytes} bytes`);
      }
    }
    if (this.ringUsed + UNIFORM_SLOT > RING_BYTES) this.flush();
    const p = this.pipelineFor(spec);
    const offset = this.ringUsed;
    if (uniforms instanceof Uint32Array) this.ringWords.set(uniforms, offset / 4); // the common case: no view allocated
    else new Uint8Array(this.ringData, offset, uniforms.byteLength).set(new Uint8Array(uniforms.buffer, uniforms.byteOffset, uniforms.byteLength));
    this.ringUsed += UNIFORM_SLOT;
    const bg = this.bindGroupFor(spec.key, p.layout, buffers);
    if (this.profiler && !this.profiler.full) {
      // Profiling: one pass per dispatch, with GPU timestamps at its start and end.
      if (this.pass) this.pass.end();
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass({ timestampWrites: this.profiler.next(spec.key) });
    } else if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    this.pass.setPipeline(p.pipeline);
    this.pass.setBindGroup(0, bg);
    this.pass.setBindGroup(1, this.ringGroupFor(offset / UNIFORM_SLOT));
    this.pass.dispatchWorkgroups(gx, gy, gz);
    this.dispatches++;
    this.unwaitedDispatches++;
    this.unwaitedGroups += gx * gy * gz;
    this.lastOp = op;
    // Submit in chunks so the GPU (lavapipe: the other CPU core) works while the host records the rest.
    if (++this.pendingDispatches >= FLUSH_EVERY) this.flush();
  }

  private bindGroupFor(key: string, layout: GPUBindGroupLayout, buffers: (GPUBuffer | GPUBufferBinding)[]): GPUBindGroup {
    // Key: pool ids of the buffers (a range adds @offset+size; forgetBuffer parses the id before '@').
    let k = key + '|';
    for (const b of buffers) k += 'buffer' in b ? `${this.pool.ids.get(b.buffer)}@${b.offset}+${b.size},` : this.pool.ids.get(b) + ',';
    let bg = this.bindGroups.get(k);
    if (!bg) {
      if (this.bindGroups.size >= BIND_GROUP_CACHE) this.evictBindGroups();
      bg = this.device.createBindGroup({
        layout,
        entries: buffers.map((b, i) => ({ binding: i + 1, resource: 'buffer' in b ? b : { buffer: b } })),
      });
      this.bindGroups.set(k, bg);
      this.bindGroupsCreated++;
    }
    return bg;
  }

  /**
   * Drops every cached bind group and collects garbage at once. Each bind group holds a Vulkan descriptor set,
   * freed only when its JS object is collected, and Dawn on lavapipe crashes (in vkCreateDescriptorPool) once
   * about 65k are alive; V8 does not see that native memory, so without a collection the dropped ones could
   * stay alive while new ones are made. Command buffers already recorded keep their own references.
   */
  private evictBindGroups(): void {
    debugLog(1, `bind group cache full (${this.bindGroups.size}): evicting and collecting`);
    this.bindGroups.clear();
    collectGarbage();
  }

  private ringGroupFor(slot: number): GPUBindGroup {
    return (this.ringGroups[slot] ??= this.device.createBindGroup({
      label: `uniform_slot_${slot}`,
      layout: this.ringLayout,
      entries: [{ binding: 0, resource: { buffer: this.ring, offset: slot * UNIFORM_SLOT, size: UNIFORM_SLOT } }],
    }));
  }

  private forgetBuffer(b: GPUBuffer): void {
    const id = `${this.pool.ids.get(b)}`;
    for (const k of this.bindGroups.keys()) {
      if (k.slice(k.lastIndexOf('|') + 1).split(',').some((e) => e.split('@')[0] === id)) this.bindGroups.delete(k);
    }
  }

  /** Submits everything recorded so far (the uniform ring is written first, in queue order). */
  flush(): void {
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (this.ringUsed > 0) this.device.queue.writeBuffer(this.ring, 0, this.ringData, 0, this.ringUsed);
    this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.ringUsed = 0;
    this.pendingDispatches = 0;
    this.submits++;
    // Destruction waits for the submitted work that reads them.
    for (const b of this.staging) b.destroy();
    this.staging = [];
  }

  /**
   * Copies host data into a buffer, in order with the recorded dispatches: with nothing pending a plain
   * queue write; otherwise through a staging buffer copied inside the encoder, so no flush is forced.
   */
  upload(buf: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
    this.checkHealthy();
    const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const size = Math.ceil(src.byteLength / 4) * 4; // writes and copies move whole 4-byte words
    if (!this.encoder) {
      if (size === src.byteLength) this.device.queue.writeBuffer(buf, byteOffset, src);
      else {
        const padded = new Uint8Array(size);
        padded.set(src);
        this.device.queue.writeBuffer(buf, byteOffset, padded);
      }
      return;
    }
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(src);
    staging.unmap();
    this.copy(staging, 0, buf, byteOffset, size);
    this.staging.push(staging);
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Reads bytes back: the one place the host waits on the GPU. */
  async read(buf: GPUBuffer, byteOffset: number, bytes: number): Promise<ArrayBuffer> {
    const start = Math.floor(byteOffset / 4) * 4;
    const end = Math.ceil((byteOffset + bytes) / 4) * 4;
    const size = Math.max(end - start, 4);
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copy(buf, start, staging, 0, size);
    this.flush();
    await waitForDevice(() => staging.mapAsync(GPUMapMode.READ), this.takeYieldDecision());
    this.checkHealthy();
    const out = staging.getMappedRange().slice(byteOffset - start, byteOffset - start + bytes);
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Waits until the queue is idle (benchmarks). */
  async sync(): Promise<void> {
    this.flush();
    await waitForDevice(() => this.device.queue.onSubmittedWorkDone(), this.takeYieldDecision());
    this.checkHealthy();
  }

  private checkHealthy(): void {
    if (this.lost) throw new Error(`webgpu device lost (last op '${this.lastOp}'): ${this.lost}`);
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      throw e;
    }
  }

  /** Starts per-kernel GPU timing (timestamp queries; one compute pass per dispatch, so slower). */
  startProfile(): void {
    if (!this.report.features.includes('timestamp-query')) throw new Error('profiling needs the timestamp-query feature');
    this.flush();
    this.profiler = new Profiler(this.device, this.report.isFallbackAdapter);
  }

  /** Stops profiling and returns GPU milliseconds and dispatch counts per kernel key, largest first. */
  async stopProfile(): Promise<{ key: string; ms: number; count: number }[]> {
    const p = this.profiler;
    if (!p) return [];
    this.flush();
    this.profiler = null;
    return p.collect();
  }

  poolStats(): PoolStats {
    return this.pool.snapshot();
  }

  destroy(): void {
    this.flush();
    this.pool.trim();
    this.device.destroy();
  }
}

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxUniformBufferBindingSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
  'maxBindGroups', 'maxBindingsPerBindGroup', 'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment',
];

/** Releases the Dawn instance so Node can exit (the reference otherwise keeps the event loop alive). */
export function releaseGpu(rt: WebGPURuntime | null): void {
  rt?.destroy();
  gpuInstance = null;
}

/** Timestamp queries around each dispatch, resolved per submit and summed per kernel key. */
class Profiler {
  private readonly capacity = 4096; // the WebGPU maximum; resolved at every submit (every 64 dispatches)
  private readonly set: GPUQuerySet;
  private used = 0;
  private keys: string[] = [];
  private pending: { buffer: GPUBuffer; keys: string[] }[] = [];

  constructor(private device: GPUDevice, private yieldCpu: boolean) {
    this.set = device.createQuerySet({ type: 'timestamp', count: this.capacity });
  }

  get full(): boolean {
    return this.used + 2 > this.capacity;
  }

  next(key: string): GPUComputePassTimestampWrites {
    const i = this.used;
    this.used += 2;
    this.keys.push(key);
    return { querySet: this.set, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
  }

  resolve(encoder: GPUCommandEncoder): void {
    if (!this.used) return;
    const bytes = this.used * 8;
    const resolveBuf = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.set, 0, this.used, resolveBuf, 0);
    encoder.copyBufferToBuffer(resolveBuf, 0, read, 0, bytes);
    this.pending.push({ buffer: read, keys: this.keys });
    this.keys = [];
    this.used = 0;
  }

  async collect(): Promise<{ key: string; ms: number; count: number }[]> {
    const agg = new Map<string, { ms: number; count: number }>();
    for (const { buffer, keys } of this.pending) {
      await waitForDevice(() => buffer.mapAsync(GPUMapMode.READ), this.yieldCpu);
      const t = new BigUint64Array(buffer.getMappedRange().slice(0));
      buffer.unmap();
      buffer.destroy();
      keys.forEach((k, i) => {
        const e = agg.get(k) ?? { ms: 0, count: 0 };
        e.ms += Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
        e.count++;
        agg.set(k, e);
      });
    }
    this.set.destroy();
    return [...agg].map(([key, v]) => ({ key, ...v })).sort((a, b) => b.ms - a.ms);
  }
}
