/**
 * StrykerJS settings shared by the packages' `stryker.config.mjs` (a developer tool: `pnpm --filter
 * @robust-ft/<pkg> mutation`, never part of `pnpm test` or CI, which are too slow for it on 2 cores).
 */
export function strykerConfig(pkg, mutate, overrides = {}) {
  return {
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    vitest: { configFile: 'vitest.config.ts', related: true },
    coverageAnalysis: 'perTest',
    // One worker: the machines this runs on are small and shared.
    concurrency: 1,
    incremental: true,
    incrementalFile: 'reports/mutation/stryker-incremental.json',
    reporters: ['json', 'clear-text', 'progress'],
    jsonReporter: { fileName: 'reports/mutation/mutation.json' },
    clearTextReporter: { allowColor: false, logTests: false },
    // The sandbox sits as deep as the package (`<repo>/.stryker-tmp-<pkg>/sandbox-*`), so tests that
    // find ../shared/golden relative to their own file still do.
    tempDirName: `../../.stryker-tmp-${pkg}`,
    // Stryker rewrites tsconfig `extends` for a sandbox inside the package; ours is not, and the original
    // `../../tsconfig.base.json` already resolves from it. Naming no tsconfig turns that rewrite off.
    tsconfigFile: 'tsconfig.stryker-unused.json',
    ignorePatterns: ['dist', 'reports', 'bench', '.tmp', 'coverage'],
    // A busy machine makes honest mutants slow: be generous before calling one a timeout.
    timeoutMS: 60_000,
    timeoutFactor: 3,
    dryRunTimeoutMinutes: 30,
    thresholds: { high: 90, low: 80, break: null },
    mutate,
    ...overrides,
  };
}
