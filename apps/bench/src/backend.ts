import { useBestBackend } from '@robust-ft/backend-node';
import * as tf from '@tensorflow/tfjs';

export type BackendChoice = 'auto' | 'tfjs-node' | 'tfjs-node-gpu' | 'wasm' | 'cpu';

/**
 * Starts the backend through `@robust-ft/backend-node`, which patches wasm (and cpu) with the gradient
 * kernels tfjs 4.22 lacks, so the CNN trains at hundreds of images per second instead of a handful.
 * `auto` takes the best that starts (tfjs-node if installed, else wasm, else cpu).
 */
export async function selectBackend(choice: BackendChoice, quiet = false): Promise<string> {
  const logger = quiet
    ? null
    : {
        info: (m: string) => process.stderr.write(`${m}\n`),
        warn: (m: string) => process.stderr.write(`${m}\n`),
      };
  const desc = await useBestBackend(choice === 'auto' ? { logger } : { force: choice, logger });
  await tf.ready();
  return desc.name;
}
