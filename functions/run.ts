/**
 * Every check: {@link runChecksWith} with the platform probes (functions/run-core.ts). The probe
 * Lambda imports `runTenantChecks` from run-core.ts instead, so that its bundle does not carry
 * the platform probes.
 */

import type { Report } from './core/types.ts';
import { PLATFORM_PROBES } from './probes/platform.ts';
import { type RunInput, runChecksWith } from './run-core.ts';

export { type RunInput, type RunProgress, runTenantChecks, SECRET_LOOKUP_BUDGET_MS } from './run-core.ts';

export function runChecks(input: RunInput): Promise<Report> {
  return runChecksWith(input, PLATFORM_PROBES);
}
