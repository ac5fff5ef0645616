import * as tf from '@tensorflow/tfjs-core';

/**
 * One-pass ReLU / ReLU6 / ClipByValue gradients. tfjs-core defines them as `dy · step(x)`,
 * `dy · ((x ≤ 6) · step(x))` and `where((x ≥ lo) ∧ (x ≤ hi), dy, 0)`: mask tensors, then a multiply or
 * select, i.e. two to four passes over every activation of the network (≈ 3.8 ms of a 46 ms
 * digits-CNN step at B = 128 on wasm; MobileNetV2's `reLU({maxValue: 6})` layers are a ReLU and a
 * ClipByValue). A backend that registers the kernel `RELU_GRAD_KERNEL`, `RELU6_GRAD_KERNEL` or
 * `CLIP_GRAD_KERNEL` (inputs `dy`, `x`, float32 of one shape; the clip kernel takes ClipByValue's
 * attributes) computes the same values in one pass. The gradients of 'Relu', 'Relu6' and 'ClipByValue'
 * are replaced (tfjs has one gradient registry for every backend) by ones that run that kernel only
 * where the active backend registered it, and otherwise compute exactly tfjs-core's expressions, so
 * every other backend gets bit-identical values.
 */
export const RELU_GRAD_KERNEL = 'RobustFtReluGrad';
export const RELU6_GRAD_KERNEL = 'RobustFtRelu6Grad';
export const CLIP_GRAD_KERNEL = 'RobustFtClipByValueGrad';

interface ClipAttrs {
  clipValueMin: number;
  clipValueMax: number;
}

/** A forward kernel, its fused gradient kernel, and tfjs-core 4.22's gradient expression, op for op. */
interface MaskedGradient {
  forward: string;
  fused: string;
  composed: (dy: tf.Tensor, x: tf.Tensor, attrs: tf.NamedAttrMap) => tf.Tensor;
}

const GRADIENTS: readonly MaskedGradient[] = [
  {
    forward: tf.Relu,
    fused: RELU_GRAD_KERNEL,
    composed: (dy, x) => tf.mul(dy, tf.cast(tf.step(x), 'float32')),
  },
  {
    forward: tf.Relu6,
    fused: RELU6_GRAD_KERNEL,
    composed: (dy, x) => tf.mul(dy, tf.cast(tf.mul(tf.lessEqual(x, 6), tf.step(x)), 'float32')),
  },
  {
    forward: tf.ClipByValue,
    fused: CLIP_GRAD_KERNEL,
    composed: (dy, x, attrs) => {
      const { clipValueMin, clipValueMax } = attrs as unknown as ClipAttrs;
      return tf.where(
        tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax)),
        dy,
        tf.zerosLike(dy),
      );
    },
  },
];

/** The gradient's value: the fused kernel where the active backend has it, else tfjs-core's ops. */
function maskedGradient(g: MaskedGradient, dy: tf.Tensor, x: tf.Tensor, attrs: tf.NamedAttrMap): tf.Tensor {
  const fused =
    dy.dtype === 'float32' &&
    x.dtype === 'float32' &&
    tf.util.arraysEqual(dy.shape, x.shape) &&
    tf.getKernel(g.fused, tf.getBackend()) !== undefined;
  if (!fused) return g.composed(dy, x, attrs);
  return tf.engine().runKernel(g.fused, { dy, x }, attrs) as tf.Tensor;
}

/**
 * Replaces the 'Relu', 'Relu6' and 'ClipByValue' gradients with the dispatching ones above and gives
 * the fused kernels their own gradient (d/d(dy) is the same masked gradient again, d/dx is zero as
 * the masks' own gradients are), so they can be differentiated again. Idempotent. Call after
 * tfjs-core's own gradients are registered (importing tfjs-core does that). Registers every time, not
 * once: a bundle that loads tfjs-core's gradients again later (a second copy, `@tensorflow/tfjs` after
 * `-core`) puts the stock ones back, and patching the backend again must restore these.
 */
export function installActivationGradients(): void {
  for (const g of GRADIENTS) {
    tf.registerGradient({
      kernelName: g.forward,
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as tf.Tensor[];
        return { x: () => maskedGradient(g, dy as tf.Tensor, x!, attrs) };
      },
    });
    tf.registerGradient({
      kernelName: g.fused,
      inputsToSave: ['x'],
      gradFunc: (ddy, saved, attrs) => {
        const [x] = saved as tf.Tensor[];
        return { dy: () => maskedGradient(g, ddy as tf.Tensor, x!, attrs), x: () => tf.zerosLike(x!) };
      },
    });
  }
}
