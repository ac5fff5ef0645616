import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

// Debian's chromium, never a downloaded browser (`playwright install` is not used anywhere).
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  throw new Error(
    `The browser suite needs Chromium at ${executablePath}, which does not exist. ` +
      'Install it with `apt-get install -y chromium` (Debian), or set CHROMIUM_PATH to a Chromium binary.',
  );
}

// Serve tfjs's .wasm binaries at the site root, as an app would copy them next to its page.
const require = createRequire(import.meta.url);
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');

export default defineConfig({
  publicDir: wasmDir,
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-core/dist/register_all_gradients',
      '@tensorflow/tfjs-backend-cpu',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-backend-webgl',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-layers',
    ],
  },
  test: {
    include: ['test/**/*.browser.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({
        launchOptions: {
          executablePath,
          args: [
            '--no-sandbox',
            // WebGPU is behind a flag on Linux; SwiftShader is the only adapter on a machine without a GPU.
            '--enable-unsafe-webgpu',
            '--use-webgpu-adapter=swiftshader',
            // Keep the browser off the network (CI has none beyond the npm registry).
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--disable-default-apps',
            '--disable-domain-reliability',
            '--metrics-recording-only',
            '--no-pings',
          ],
        },
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
});
