/** Types of scripts/api-report.mjs for the packages' api-report tests. */
export function reportPath(pkgDir: string): string;
export function apiReport(pkgDir: string): string;
export function checkApiReport(pkgDir: string): string | undefined;
