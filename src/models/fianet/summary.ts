// `fianet summary`: parameters per module and the forward MACs at the configured size, counted analytically
// from the config the way FIANET.md §14 counts them (linear, conv and attention products; norms and element-wise
// ops excluded; window attention, QKV and projection on padded tokens, MLPs on real tokens).
import type { FianetConfig } from '../../config/fianet.ts';
import type { Module } from '../../nn/module.ts';

export interface MacBreakdown {
  bert: number;
  swin: number;
  fiam: number;
  tmem: number;
  decoder: number;
  total: number;
}

const sila = (N: number, Cv: number, L: number, Ct: number, C: number) => N * Cv * C + 2 * L * Ct * C + 2 * N * L * C + N * C * C;

export function forwardMacs(cfg: FianetConfig, batch = 1): MacBreakdown {
  const m = cfg.model;
  const S = cfg.data.image_size;
  const L = cfg.data.text_length;
  const t = m.text;
  // BERT: per layer QKV + output (4H^2), FFN (2HI), attention scores and context (2 L^2 H); three passes.
  const bert = 3 * t.num_layers * (L * (4 * t.hidden_size ** 2 + 2 * t.hidden_size * t.intermediate_size) + 2 * L * L * t.hidden_size);
  const b = m.backbone;
  const ws = b.window_size;
  let H = Math.ceil(S / b.patch_size);
  let W = H;
  let swin = H * W * b.embed_dim * 3 * b.patch_size ** 2;
  let fiam = 0;
  const grids: [number, number][] = [];
  const widths = b.depths.map((_, i) => b.embed_dim * 2 ** i);
  b.depths.forEach((depth, i) => {
    const C = widths[i]!;
    const N = H * W;
    const Np = Math.ceil(H / ws) * ws * Math.ceil(W / ws) * ws;
    const hidden = Math.round(C * b.mlp_ratio);
    swin += depth * (Np * C * 3 * C + 2 * Np * ws * ws * C + Np * C * C + 2 * N * C * hidden);
    // FIAM: PWAM (two projections + SILA), context gate, OPAB (two SILA, gate, 2->1 3x3 conv), channel gate.
    const s = sila(N, C, L, t.hidden_size, C);
    fiam += 2 * N * C * C + s + 2 * N * C * C + 2 * s + 2 * N * C * C + N * 2 * 9 + 2 * C * Math.floor(C / 8);
    grids.push([H, W]);
    if (i < b.depths.length - 1) {
      const [h2, w2] = [Math.ceil(H / 2), Math.ceil(W / 2)];
      swin += h2 * w2 * 4 * C * 2 * C;
      [H, W] = [h2, w2];
    }
  });
  let tmem = 0;
  if (m.ablation.tmem) {
    const total = widths.reduce((a, c) => a + c, 0);
    const D = Math.floor(total / 4);
    const n = H * W;
    tmem = n * total * D + m.num_tmem * (sila(n, D, L, t.hidden_size, D) + 2 * n * D * 2 * D) + n * D * total;
    widths.forEach((C, i) => {
      const [h, w] = grids[i]!;
      tmem += h * w * C * C + 2 * n * C * C;
    });
  }
  const hd = m.decoder_hidden;
  const [[h1, w1], [h2, w2], [h3, w3]] = grids as [[number, number], [number, number], [number, number]];
  const conv = (h: number, w: number, cin: number, cout: number, k: number) => h * w * cin * cout * k * k;
  const decoder = conv(h3, w3, widths[3]! + widths[2]!, hd, 3) + conv(h3, w3, hd, hd, 3)
    + conv(h2, w2, hd + widths[1]!, hd, 3) + conv(h2, w2, hd, hd, 3)
    + conv(h1, w1, hd + widths[0]!, hd, 3) + conv(h1, w1, hd, hd, 3) + conv(h1, w1, hd, 2, 1);
  const parts = { bert, swin, fiam, tmem, decoder };
  const out = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v * batch])) as Omit<MacBreakdown, 'total'>;
  return { ...out, total: Object.values(out).reduce((a, v) => a + v, 0) };
}

/** Parameter counts grouped by a key prefix depth (e.g. depth 2: backbone.layers, text_encoder.encoder). */
export function parameterTable(model: Module, depth = 2): [string, number][] {
  const groups = new Map<string, number>();
  for (const [k, p] of model.namedParameters()) {
    const g = k.split('.').slice(0, depth).join('.');
    groups.set(g, (groups.get(g) ?? 0) + p.size);
  }
  return [...groups];
}
