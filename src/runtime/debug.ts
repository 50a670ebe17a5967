// Numbered debug levels, as in tinygrad: FIANET_DEBUG=1 timings, 2 compiles and pool stats,
// 3 dump WGSL, 4 re-run every kernel on the CPU reference and diff.
export const DEBUG = Number(process.env.FIANET_DEBUG ?? 0) || 0;

export function debugLog(level: number, msg: string): void {
  if (DEBUG >= level) process.stderr.write(`[fianet:${level}] ${msg}\n`);
}
