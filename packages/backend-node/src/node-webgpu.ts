import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's chromium package ships SwiftShader's Vulkan driver; Dawn rejects Mesa's lavapipe. */
export const SWIFTSHADER_VULKAN_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** The part of the `webgpu` (Dawn) npm package this uses. */
export interface DawnModule {
  create: (flags: string[]) => { requestAdapter(): Promise<unknown> };
  globals: Record<string, unknown>;
}

/**
 * Makes WebGPU available to tfjs in Node through Dawn (`webgpu@0.6.2`): installs `navigator.gpu` and
 * the WebGPU globals. `loadDawn` imports the package (`() => import('webgpu')`) so this module needs no
 * dependency on it. Resolves to `null` when WebGPU is ready, else to the reason it cannot run here —
 * callers (tests, benches) print it rather than pass silently.
 */
export async function installNodeWebGpu(
  loadDawn: () => Promise<unknown>,
  { icd = SWIFTSHADER_VULKAN_ICD }: { icd?: string } = {},
): Promise<string | null> {
  if (!existsSync(icd))
    return `${icd} not found (apt-get install chromium provides SwiftShader's Vulkan ICD)`;
  process.env.VK_ICD_FILENAMES = icd;
  process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'xdg-'));
  let dawn: DawnModule;
  try {
    dawn = (await loadDawn()) as DawnModule;
  } catch (error) {
    return `the webgpu package does not load: ${String(error)}`;
  }
  const gpu = dawn.create([]);
  if ((await gpu.requestAdapter()) === null) {
    return 'Dawn found no adapter (is libvulkan1 installed? Dawn needs libvulkan.so.1 to open the ICD)';
  }
  Object.assign(globalThis, dawn.globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return null;
}
