import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkApiReport } from '../../../scripts/api-report.mjs';

// The checked-in API report must match the built declarations: a change to the public surface fails
// here until the report is regenerated (`node scripts/api-report.mjs`) and the diff shows in review.
describe('API report', () => {
  it('matches the public surface of the build', () => {
    expect(checkApiReport(fileURLToPath(new URL('..', import.meta.url)))).toBeUndefined();
  });
});
