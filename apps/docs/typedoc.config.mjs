// TypeDoc over every package's public entry point (src/index.ts), written as markdown into
// content/api (git-ignored) so VitePress renders the API reference with the rest of the site.
import { existsSync } from 'node:fs';

const PACKAGES = ['core', 'optimizers', 'losses', 'eval', 'backend-web', 'backend-node'];

// A package whose entry point does not exist yet is left out rather than failing the docs build;
// the API reference test lists which packages it expected.
const present = PACKAGES.map((name) => `../../packages/${name}`).filter((dir) =>
  existsSync(`${dir}/src/index.ts`),
);

/** @type {Partial<import('typedoc').TypeDocOptions & import('typedoc-plugin-markdown').PluginOptions>} */
export default {
  plugin: ['typedoc-plugin-markdown'],
  entryPointStrategy: 'packages',
  entryPoints: present,
  // With the 'packages' strategy each package is converted with its own options: source links and git
  // lookups must be turned off here too, or every package warns that the git remote is not valid.
  packageOptions: {
    entryPoints: ['src/index.ts'],
    excludeExternals: true,
    disableSources: true,
    disableGit: true,
  },
  out: 'content/api',
  cleanOutputDir: true,
  readme: 'none',
  name: 'API reference',
  entryFileName: 'index',
  hidePageHeader: true,
  hideBreadcrumbs: true,
  excludePrivate: true,
  excludeInternal: true,
  disableSources: true,
  disableGit: true,
  useCodeBlocks: true,
  expandObjects: true,
  parametersFormat: 'table',
  interfacePropertiesFormat: 'table',
  classPropertiesFormat: 'table',
  logLevel: 'Warn',
};
