import * as tf from '@tensorflow/tfjs';
import { digitClassifier } from './model';

/**
 * Learned position embeddings added to the patch tokens ([T, D] weights). tfjs-layers has no such layer;
 * registered below so `tf.loadLayersModel` rebuilds the pre-trained model from its JSON.
 */
class PositionEmbedding extends tf.layers.Layer {
  static className = 'RobustFtPositionEmbedding';
  private table: tf.LayerVariable | null = null;

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = inputShape as tf.Shape;
    this.table = this.addWeight(
      'embeddings',
      [s[1] as number, s[2] as number],
      'float32',
      tf.initializers.truncatedNormal({ stddev: 0.02, seed: 7 }),
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
    return tf.add(x, (this.table as tf.LayerVariable).read());
  }
}

/**
 * Multi-head self-attention over [B, T, D] tokens (softmax(QKᵀ/√d_h)V, then an output projection), the
 * one mixing operation of the attention model: no convolution, no pooling before the token average.
 */
class SelfAttention extends tf.layers.Layer {
  static className = 'RobustFtSelfAttention';
  readonly heads: number;
  private w: Record<'qkv' | 'qkvBias' | 'out' | 'outBias', tf.LayerVariable> | null = null;

  constructor(config: { heads: number; name?: string }) {
    super(config);
    this.heads = config.heads;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const d = (inputShape as tf.Shape)[2] as number;
    const glorot = (seed: number) => tf.initializers.glorotUniform({ seed });
    this.w = {
      qkv: this.addWeight('qkv/kernel', [d, 3 * d], 'float32', glorot(11)),
      qkvBias: this.addWeight('qkv/bias', [3 * d], 'float32', tf.initializers.zeros()),
      out: this.addWeight('out/kernel', [d, d], 'float32', glorot(12)),
      outBias: this.addWeight('out/bias', [d], 'float32', tf.initializers.zeros()),
    };
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const [b, t, d] = x.shape;
      const w = this.w as NonNullable<typeof this.w>;
      const h = this.heads;
      const dh = d / h;
      const flat = tf.reshape(x, [b * t, d]);
      const qkv = tf.add(tf.matMul(flat, w.qkv.read() as tf.Tensor2D), w.qkvBias.read());
      // [B·T, 3D] → [3, B, H, T, dh] → three [B·H, T, dh] stacks.
      const split = tf.transpose(tf.reshape(qkv, [b, t, 3, h, dh]), [2, 0, 3, 1, 4]);
      const part = (i: number) =>
        tf.reshape(tf.slice(split, [i, 0, 0, 0, 0], [1, b, h, t, dh]), [b * h, t, dh]) as tf.Tensor3D;
      const scores = tf.div(tf.matMul(part(0), part(1), false, true), Math.sqrt(dh));
      const mixed = tf.matMul(tf.softmax(scores), part(2));
      const merged = tf.reshape(tf.transpose(tf.reshape(mixed, [b, h, t, dh]), [0, 2, 1, 3]), [b * t, d]);
      return tf.reshape(tf.add(tf.matMul(merged, w.out.read() as tf.Tensor2D), w.outBias.read()), [b, t, d]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads };
  }
}

tf.serialization.registerClass(PositionEmbedding);
tf.serialization.registerClass(SelfAttention);

/** Width, heads, blocks and patch size of the attention model. */
export const ATTENTION_ARCH = { patch: 7, dim: 32, heads: 2, blocks: 2, mlp: 64 } as const;

/**
 * A small vision transformer for 28×28×1 digits (≈ 26 k parameters): 7×7 patches (16 tokens, a strided
 * linear patch embedding) plus learned positions, `blocks` pre-norm transformer blocks (self-attention
 * and a ReLU MLP, each with a residual), token average, the 32-d `features` layer and the
 * 10-way `head` — the same two named layers as the CNN, so linear probing and the grid treat both alike.
 */
export function buildAttentionNet(seed: number): tf.LayersModel {
  const a = ATTENTION_ARCH;
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed * 100 + s });
  const tokens = (28 / a.patch) ** 2;
  const input = tf.input({ shape: [28, 28, 1], name: 'image' });
  let h = tf.layers
    .conv2d({
      filters: a.dim,
      kernelSize: a.patch,
      strides: a.patch,
      name: 'patch',
      kernelInitializer: init(1),
    })
    .apply(input) as tf.SymbolicTensor;
  h = tf.layers.reshape({ targetShape: [tokens, a.dim], name: 'tokens' }).apply(h) as tf.SymbolicTensor;
  h = new PositionEmbedding({ name: 'position' }).apply(h) as tf.SymbolicTensor;
  for (let i = 0; i < a.blocks; i++) {
    const n1 = tf.layers.layerNormalization({ name: `block${i}/norm1` }).apply(h) as tf.SymbolicTensor;
    const att = new SelfAttention({ heads: a.heads, name: `block${i}/attention` }).apply(
      n1,
    ) as tf.SymbolicTensor;
    h = tf.layers.add({ name: `block${i}/residual1` }).apply([h, att]) as tf.SymbolicTensor;
    const n2 = tf.layers.layerNormalization({ name: `block${i}/norm2` }).apply(h) as tf.SymbolicTensor;
    let m = tf.layers
      .dense({ units: a.mlp, activation: 'relu', name: `block${i}/mlp1`, kernelInitializer: init(10 + i) })
      .apply(n2) as tf.SymbolicTensor;
    m = tf.layers
      .dense({ units: a.dim, name: `block${i}/mlp2`, kernelInitializer: init(20 + i) })
      .apply(m) as tf.SymbolicTensor;
    h = tf.layers.add({ name: `block${i}/residual2` }).apply([h, m]) as tf.SymbolicTensor;
  }
  h = tf.layers.layerNormalization({ name: 'norm' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling1d({ name: 'pool' }).apply(h) as tf.SymbolicTensor;
  return digitClassifier(input, h, init, 'digit_attention');
}

export const PRETRAINED_ATTENTION_DIR = 'pretrained-attention';
