/**
 * An on-demand run for one tenant (a direct invocation or the Function URL): its checks now,
 * and, when asked, its alerts published. Returns the report.
 */
import type { OnDemandRequest } from '../core/events.ts';
import { onDemandConfig } from '../core/sweep-protocol.ts';
import type { Report } from '../core/types.ts';
import { runTenantChecks } from '../run-core.ts';
import { runAlertPath } from './alerting.ts';
import type { AppDeps } from './deps.ts';
import { logTenantReport, recordResultMetrics } from './telemetry.ts';
import { UnknownTenantError, withSourcedTenants } from './tenants.ts';
import { withPorts } from './with-ports.ts';

/** Throws `UnknownTenantError` for a tenant the canary does not know. */
export async function runOnDemand(
  deps: AppDeps,
  request: OnDemandRequest,
  signal: AbortSignal | undefined,
): Promise<Report> {
  const loaded = onDemandConfig(await deps.config());
  const { config } = await withSourcedTenants(loaded, deps.tenantSource(loaded));
  const { tenantId } = request;
  if (!config.tenants.some((tenant) => tenant.tenantId === tenantId)) throw new UnknownTenantError(tenantId);
  const log = deps.logger.createChild({ persistentKeys: { tenantId, onDemand: true } });
  // Its checks only (platform checks are the sweep's); a secret that cannot be read is the checks' `error`.
  const report = await withPorts(deps.openPorts, config, (ports) =>
    (deps.checks ?? runTenantChecks)({
      config,
      ports,
      secrets: deps.secrets,
      filters: { tenantIds: [tenantId], platform: false },
      signal,
    }),
  );
  recordResultMetrics(deps.metrics, report.results);
  if (request.publish === true) {
    report.alerts = await runAlertPath(
      deps,
      log,
      config,
      { results: report.results, tenants: report.tenants },
      { onFailure: 'log' },
    );
  }
  logTenantReport(log, report);
  return report;
}
