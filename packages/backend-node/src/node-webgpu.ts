import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's chromium package ships SwiftShader's Vulkan driver; Dawn rejects Mesa's lavapipe. */
export const SWIFTSHADER_VULKAN_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

interface DawnAdapter {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/** The part of the `webgpu` (Dawn) npm package this uses. */
export interface DawnModule {
  create: (flags: string[]) => {
    requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<unknown>;
  };
  globals: Record<string, unknown>;
}

/** The adapter Dawn gave: its description and whether it is a software rasteriser. */
export interface NodeGpuAdapter {
  description: string;
  software: boolean;
}

export interface NodeWebGpuOptions {
  /**
   * Accept a software adapter (SwiftShader): correct but 60 to 150× slower than wasm, so only for
   * tests. Default false: only a hardware adapter is installed.
   */
  allowSoftwareGpu?: boolean;
  /** The software Vulkan driver tried when no hardware adapter is found. Default: SwiftShader's ICD. */
  icd?: string;
}

export type NodeWebGpuProbe =
  | { adapter: NodeGpuAdapter; reason?: undefined }
  | { adapter: null; reason: string };

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|software|basic render/i;

function describeAdapter(adapter: DawnAdapter): NodeGpuAdapter {
  const info = adapter.info ?? {};
  const description =
    [info.vendor, info.architecture, info.description].filter((s) => s !== undefined && s !== '').join(' ') ||
    'unknown adapter';
  const software =
    info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || SOFTWARE.test(description);
  return { description, software };
}

/**
 * Makes WebGPU available to tfjs in Node through Dawn (`webgpu@0.6.2`): finds an adapter, then installs
 * `navigator.gpu` and the WebGPU globals. It asks the system's Vulkan drivers first (a real GPU); only
 * when none gives a hardware adapter and `allowSoftwareGpu` is set does it load SwiftShader's driver.
 * `loadDawn` imports the package (`() => import('webgpu')`) so this module needs no dependency on it.
 * Resolves to the adapter, or to the reason WebGPU cannot run here (nothing is installed then).
 */
export async function probeNodeWebGpu(
  loadDawn: () => Promise<unknown>,
  { allowSoftwareGpu = false, icd = SWIFTSHADER_VULKAN_ICD }: NodeWebGpuOptions = {},
): Promise<NodeWebGpuProbe> {
  process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'xdg-'));
  let dawn: DawnModule;
  try {
    dawn = (await loadDawn()) as DawnModule;
  } catch (error) {
    return { adapter: null, reason: `the webgpu package does not load: ${String(error)}` };
  }
  const tryAdapter = async () => {
    const gpu = dawn.create([]);
    const adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) as DawnAdapter | null;
    return adapter === null ? null : { gpu, adapter: describeAdapter(adapter) };
  };
  // The Vulkan loader reads VK_ICD_FILENAMES at each instance creation, so a second try with the
  // software driver works in the same process.
  let found = process.env.VK_ICD_FILENAMES === icd ? null : await tryAdapter();
  if (found?.adapter.software && !allowSoftwareGpu)
    return {
      adapter: null,
      reason: `only a software adapter (${found.adapter.description}); set allowSoftwareGpu to use it`,
    };
  if (found === null) {
    if (!allowSoftwareGpu) return { adapter: null, reason: 'no hardware GPU adapter (Dawn found none)' };
    if (!existsSync(icd))
      return {
        adapter: null,
        reason: `no hardware GPU adapter, and ${icd} not found (apt-get install chromium provides SwiftShader's Vulkan ICD)`,
      };
    process.env.VK_ICD_FILENAMES = icd;
    found = await tryAdapter();
    if (found === null)
      return {
        adapter: null,
        reason: 'Dawn found no adapter (is libvulkan1 installed? Dawn needs libvulkan.so.1 to open the ICD)',
      };
  }
  Object.assign(globalThis, dawn.globals);
  Object.defineProperty(globalThis, 'navigator', {
    value: { gpu: found.gpu },
    configurable: true,
    writable: true,
  });
  return { adapter: found.adapter };
}

/**
 * `probeNodeWebGpu` with a software adapter allowed (tests and benchmarks): resolves to `null` when
 * WebGPU is ready, else to the reason it cannot run here — callers print it rather than pass silently.
 */
export async function installNodeWebGpu(
  loadDawn: () => Promise<unknown>,
  { icd = SWIFTSHADER_VULKAN_ICD }: { icd?: string } = {},
): Promise<string | null> {
  const probe = await probeNodeWebGpu(loadDawn, { allowSoftwareGpu: true, icd });
  return probe.adapter === null ? probe.reason : null;
}

/** Releases Dawn's GPU object: Dawn keeps the process alive while one is reachable. */
export function uninstallNodeWebGpu(): void {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav) delete nav.gpu;
}
