import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.base';

export default defineConfig(
  libraryConfig({
    index: 'src/index.ts',
    internal: 'src/internal.ts',
    testing: 'src/testing/index.ts',
    kernels: 'src/kernels/index.ts',
  }),
);
