/**
 * An on-demand run for one tenant (a direct invocation or the Function URL): its checks now,
 * and, when asked, its alerts published. Returns the report.
 */
import type { OnDemandRequest } from '../core/events.ts';
import { onDemandConfig } from '../core/sweep-protocol.ts';
import type { Report } from '../core/types.ts';
import type { AppDeps } from './deps.ts';
import { publishAlerts } from './judge-sweep.ts';
import { logTenantReport, recordResultMetrics } from './telemetry.ts';
import { probeTenant, withSourcedTenants } from './tenants.ts';
import { withPorts } from './with-ports.ts';

/** Throws `UnknownTenantError` for a tenant the canary does not know. */
export async function runOnDemand(
  deps: AppDeps,
  request: OnDemandRequest,
  signal: AbortSignal | undefined,
): Promise<Report> {
  const loaded = onDemandConfig(await deps.config());
  const { config } = await withSourcedTenants(loaded, deps.tenantSource(loaded));
  const log = deps.logger.createChild({ persistentKeys: { tenantId: request.tenantId, onDemand: true } });
  const { report } = await withPorts(deps.openPorts, config, (ports) =>
    probeTenant({ config, ports, secrets: deps.secrets, tenantId: request.tenantId, signal }),
  );
  recordResultMetrics(deps.metrics, report.results);
  if (request.publish === true) {
    report.alerts = await publishAlerts(deps, log, config, report.results, report.tenants);
  }
  logTenantReport(log, report);
  return report;
}
