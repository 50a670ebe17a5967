#!/usr/bin/env node
// Exits 0 when Dawn finds a WebGPU adapter, 1 otherwise (used by scripts/setup.sh).
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const timer = setTimeout(() => process.exit(1), 20000);
let gpu = create([]);
const adapter = await gpu.requestAdapter().catch(() => null);
clearTimeout(timer);
if (adapter) console.log(`webgpu adapter: ${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}`);
gpu = null;
process.exit(adapter ? 0 : 1);
