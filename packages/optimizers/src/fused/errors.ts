import { RobustFtError, type RobustFtErrorCode } from '@robust-ft/core';

/**
 * A typed error from inside a fused kernel or its drivers (kernel attributes and inputs, backend
 * storage, the WGSL recorder): callers see the same `RobustFtError` codes as everywhere else.
 */
export function kernelError(code: RobustFtErrorCode, message: string, argument?: string): RobustFtError {
  return new RobustFtError(
    code,
    `fused optimizer kernel: ${message}`,
    argument === undefined ? {} : { argument },
  );
}
