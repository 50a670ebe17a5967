// BERT (HF transformers 3.0.2 BertModel without the pooler), FIANET.md §3: post-LN layers, exact-erf GELU,
// LayerNorm eps 1e-12, additive key mask (1 - m) * -10000, dropout on embeddings, attention probabilities and
// hidden states (active in training). State-dict names follow HF: embeddings.word_embeddings, encoder.layer.n.
import type { Tensor } from '../../tensor/tensor.ts';
import { scope } from '../../tensor/scope.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { add, cast, dropout, gelu, mul, sub } from '../../kernels/elementwise/elementwise.op.ts';
import { matmul } from '../../kernels/matmul/matmul.op.ts';
import { reshape, slice, transpose } from '../../kernels/movement/movement.op.ts';
import { softmax } from '../../kernels/softmax/softmax.op.ts';
import { attention, mergeHeads, splitHeads } from '../../kernels/attention/attention.op.ts';
import { Module } from '../../nn/module.ts';
import { Embedding, Linear, ModuleList, type InitOptions } from '../../nn/layers.ts';
import { LayerNorm } from '../../nn/norm.ts';
import type { Generator } from '../../tensor/random.ts';

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_layers: number;
  num_heads: number;
  intermediate_size: number;
  max_position: number;
  layer_norm_eps: number;
  dropout: number;
}

// HF initializes Linear and Embedding weights N(0, 0.02), biases 0, LayerNorm 1/0 (used when no weights load).
const lin = (i: number, o: number, init: InitOptions) => new Linear(i, o, true, { ...init, init: 'normal', std: 0.02 });

class BertEmbeddings extends Module {
  readonly word_embeddings: Embedding;
  readonly position_embeddings: Embedding;
  readonly token_type_embeddings: Embedding;
  readonly LayerNorm: LayerNorm;
  constructor(readonly c: BertConfig, init: InitOptions, readonly gen: Generator | undefined) {
    super();
    this.word_embeddings = this.registerModule('word_embeddings', new Embedding(c.vocab_size, c.hidden_size, { ...init, std: 0.02 }));
    this.position_embeddings = this.registerModule('position_embeddings', new Embedding(c.max_position, c.hidden_size, { ...init, std: 0.02 }));
    this.token_type_embeddings = this.registerModule('token_type_embeddings', new Embedding(2, c.hidden_size, { ...init, std: 0.02 }));
    this.LayerNorm = this.registerModule('LayerNorm', new LayerNorm(c.hidden_size, c.layer_norm_eps, init));
  }
  /** ids (B, L) i32 -> (B, L, H): word + position (0..L-1) + token type 0. */
  forward(ids: Tensor): Tensor {
    const L = ids.shape[1]!;
    const pos = slice(this.position_embeddings.weight, 0, 0, L);
    const type0 = slice(this.token_type_embeddings.weight, 0, 0, 1);
    const e = add(add(this.word_embeddings.forward(ids), pos), type0);
    return dropout(this.LayerNorm.forward(e), this.c.dropout, this.training, this.gen);
  }
}

class BertSelfAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  constructor(readonly c: BertConfig, init: InitOptions, readonly gen: Generator | undefined) {
    super();
    this.query = this.registerModule('query', lin(c.hidden_size, c.hidden_size, init));
    this.key = this.registerModule('key', lin(c.hidden_size, c.hidden_size, init));
    this.value = this.registerModule('value', lin(c.hidden_size, c.hidden_size, init));
  }
  /** x (B, L, H), additive mask (B, 1, 1, L) -> (B, L, H). */
  forward(x: Tensor, mask: Tensor): Tensor {
    const h = this.c.num_heads;
    const scale = 1 / Math.sqrt(this.c.hidden_size / h);
    const q = splitHeads(this.query.forward(x), h);
    const k = splitHeads(this.key.forward(x), h);
    const v = splitHeads(this.value.forward(x), h);
    if (this.training && this.c.dropout > 0) {
      // Dropout on the attention probabilities needs them materialized: the composed path (L <= a few dozen).
      const probs = softmax(mul(matmul(q, transpose(k, -1, -2)), scale), mask);
      return mergeHeads(matmul(dropout(probs, this.c.dropout, true, this.gen), v));
    }
    return mergeHeads(attention(q, k, v, { scale, mask }));
  }
}

class BertSelfOutput extends Module {
  readonly dense: Linear;
  readonly LayerNorm: LayerNorm;
  constructor(readonly c: BertConfig, inDim: number, init: InitOptions, readonly gen: Generator | undefined) {
    super();
    this.dense = this.registerModule('dense', lin(inDim, c.hidden_size, init));
    this.LayerNorm = this.registerModule('LayerNorm', new LayerNorm(c.hidden_size, c.layer_norm_eps, init));
  }
  forward(h: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(add(dropout(this.dense.forward(h), this.c.dropout, this.training, this.gen), residual));
  }
}

class BertAttention extends Module {
  readonly self: BertSelfAttention;
  readonly output: BertSelfOutput;
  constructor(c: BertConfig, init: InitOptions, gen: Generator | undefined) {
    super();
    this.self = this.registerModule('self', new BertSelfAttention(c, init, gen));
    this.output = this.registerModule('output', new BertSelfOutput(c, c.hidden_size, init, gen));
  }
  forward(x: Tensor, mask: Tensor): Tensor {
    return this.output.forward(this.self.forward(x, mask), x);
  }
}

class BertIntermediate extends Module {
  readonly dense: Linear;
  constructor(c: BertConfig, init: InitOptions) {
    super();
    this.dense = this.registerModule('dense', lin(c.hidden_size, c.intermediate_size, init));
  }
  forward(x: Tensor): Tensor {
    return gelu(this.dense.forward(x));
  }
}

export class BertLayer extends Module {
  readonly attention: BertAttention;
  readonly intermediate: BertIntermediate;
  readonly output: BertSelfOutput;
  constructor(c: BertConfig, init: InitOptions, gen: Generator | undefined) {
    super();
    this.attention = this.registerModule('attention', new BertAttention(c, init, gen));
    this.intermediate = this.registerModule('intermediate', new BertIntermediate(c, init));
    this.output = this.registerModule('output', new BertSelfOutput(c, c.intermediate_size, init, gen));
  }
  forward(x: Tensor, mask: Tensor): Tensor {
    return scope(() => {
      const a = this.attention.forward(x, mask);
      return this.output.forward(this.intermediate.forward(a), a);
    });
  }
}

class BertEncoder extends Module {
  readonly layer: ModuleList<BertLayer>;
  constructor(c: BertConfig, init: InitOptions, gen: Generator | undefined) {
    super();
    this.layer = this.registerModule('layer', new ModuleList(Array.from({ length: c.num_layers }, () => new BertLayer(c, init, gen))));
  }
}

export class BertModel extends Module {
  readonly embeddings: BertEmbeddings;
  readonly encoder: BertEncoder;
  constructor(readonly c: BertConfig, init: InitOptions = {}, gen?: Generator) {
    super();
    this.embeddings = this.registerModule('embeddings', new BertEmbeddings(c, init, gen));
    this.encoder = this.registerModule('encoder', new BertEncoder(c, init, gen));
  }

  /** ids (B, L) i32, attention mask (B, L) of 0/1 -> last hidden layer (B, L, H). */
  forward(ids: Tensor, mask: Tensor): Tensor {
    if (ids.rank !== 2 || mask.rank !== 2 || ids.shape.join() !== mask.shape.join()) {
      throw new Error(`BertModel: expects ids and mask of shape (B, L), found ${shapeStr(ids.shape)} and ${shapeStr(mask.shape)}`);
    }
    const [B, L] = ids.shape as [number, number];
    if (L > this.c.max_position) throw new Error(`BertModel: text length ${L} exceeds max_position ${this.c.max_position}`);
    // Extended mask (1 - m) * -10000, broadcast over heads and queries.
    const ext = reshape(mul(sub(1, cast(mask, 'f32')), -10000), [B, 1, 1, L]);
    let h = this.embeddings.forward(ids);
    for (const layer of this.encoder.layer) h = layer.forward(h, ext);
    return h;
  }
}

