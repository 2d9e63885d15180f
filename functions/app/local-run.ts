/**
 * A local run (the CLI's `run`): the tenants of the tenant source, every check once on ports
 * opened for the run, then the alert path against the caller's state store and publisher (or
 * none: a dry run). Returns the report with its alerts, and what the alert path reported.
 */
import { alertPolicyOptions } from '../core/alert-policy.ts';
import type { Config } from '../core/config.ts';
import { type PlanFilters, planRun } from '../core/plan.ts';
import type { Report } from '../core/types.ts';
import type { AlertPublisher, AlertStateStore, SecretResolver, SkippedTenant, TenantSource } from '../ports.ts';
import type { RunInput } from '../run.ts';
import { type AlertEvent, evaluateAlerts } from './alerting.ts';
import { withSourcedTenants } from './tenants.ts';
import { type PortsOpener, runWithPorts } from './with-ports.ts';

export interface LocalRunInput {
  config: Config;
  /** Where the tenants come from (the config's own list for a static source). */
  tenantSource: TenantSource;
  openPorts: PortsOpener;
  secrets: SecretResolver;
  filters?: PlanFilters;
  store: AlertStateStore;
  /** null: a dry run (alerts are decided and recorded, not sent). */
  publisher: AlertPublisher | null;
  /** The alert clock. @default the report's start */
  now?: Date | undefined;
  signal?: AbortSignal | undefined;
  /** Rows of the tenant source that could not be used (told before the run; it goes on without them). */
  onSkippedTenant?: (skipped: SkippedTenant) => void;
  /** Told after each tenant's checks. */
  onTenantDone?: RunInput['onTenantDone'];
}

export interface LocalRunOutcome {
  report: Report;
  /** What the alert path reported besides the alerts: undelivered messages, lost races. */
  alertEvents: AlertEvent[];
}

export async function localRun(input: LocalRunInput): Promise<LocalRunOutcome> {
  const { config, skipped } = await withSourcedTenants(input.config, input.tenantSource);
  for (const row of skipped) input.onSkippedTenant?.(row);
  // An unknown --tenant or --check is refused before any connection is opened.
  planRun(config, input.filters);
  const report = await runWithPorts(input.openPorts, {
    config,
    secrets: input.secrets,
    ...(input.filters ? { filters: input.filters } : {}),
    signal: input.signal,
    onTenantDone: input.onTenantDone,
  });
  const alertEvents: AlertEvent[] = [];
  const alerts = await evaluateAlerts({
    report,
    tenants: report.tenants,
    store: input.store,
    publisher: input.publisher,
    now: input.now ?? new Date(report.startedAt),
    options: alertPolicyOptions(config),
    onEvent: (event) => alertEvents.push(event),
  });
  return { report: { ...report, alerts }, alertEvents };
}
