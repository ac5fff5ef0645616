import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.base';

// shims: wasm-threads.ts locates its worker script from import.meta.url (ESM) or __filename (CJS).
export default defineConfig({
  ...libraryConfig({ index: 'src/index.ts', testing: 'src/testing.ts' }),
  shims: true,
});
