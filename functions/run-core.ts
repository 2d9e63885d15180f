/**
 * Orchestration: plan -> probes (bounded concurrency, a time budget per check) -> results.
 * The same function serves the CLI, the Lambda handlers, the drills and the benchmarks: with
 * every check through functions/run.ts (`runChecks`), with tenant checks only through
 * {@link runTenantChecks} (the probe Lambda: its bundle leaves the platform probes out).
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { planStarts, slotCapacity, tenantRequests } from './core/budget.ts';
import type { CheckId, PlatformCheckId, TenantCheckId } from './core/catalog.ts';
import { mapWithConcurrency, withBudget } from './core/concurrency.ts';
import type { Config, SecretRef, TenantConfig } from './core/config.ts';
import { errorMessage } from './core/errors.ts';
import { type PlanFilters, planRun } from './core/plan.ts';
import { errored, needsAttention, skipped, sortResults, toResult } from './core/results.ts';
import { isSampledCheck, type SamplingDecision } from './core/sampling.ts';
import { cleanReport } from './core/sanitize.ts';
import type { CheckResult, Outcome, Report } from './core/types.ts';
import type { Ports, ResolvedTenant, SecretResolver } from './ports.ts';
import { type Requirement, TENANT_PROBES } from './probes/index.ts';
import type { PlatformProbes } from './probes/platform.ts';
import type { EntryPointSecret, ProbeContext, TenantProbeContext } from './probes/types.ts';

export interface RunInput {
  config: Config;
  ports: Ports;
  secrets: SecretResolver;
  filters?: PlanFilters;
  /** Cancels the whole run (checks still report, as errors). */
  signal?: AbortSignal | undefined;
  /** Told after each tenant's checks (a progress line); never slows or fails the run. */
  onTenantDone?: ((progress: RunProgress) => void) | undefined;
  /**
   * A scheduled sweep's sampling, by tenant (functions/core/sampling.ts): the sampled checks not
   * due are `skipped` with their next time. A tenant without an entry runs every check.
   */
  sampling?: ReadonlyMap<string, SamplingDecision> | undefined;
  /**
   * The tenant each tenant's cross-tenant checks forge with, by tenant (a sweep's message `peer`):
   * its secret is read too, and it comes first among the others. A tenant without one forges with
   * the first other tenant whose secret was read.
   */
  peers?: ReadonlyMap<string, string> | undefined;
  /**
   * Whether the run paces its tenant starts to the request budget (default true). A probe batch
   * says false: the sweep already delayed each tenant's message to its one-second slot, so the
   * tenants a batch receives together start together (waiting again would bill the wait).
   */
  paced?: boolean | undefined;
}

export interface RunProgress {
  done: number;
  total: number;
  /** Tenants done so far with a failing, degraded or erroring check. */
  failing: number;
}

type SecretLookup = { ok: true; tenant: ResolvedTenant } | { ok: false; reason: string };

/**
 * How long a tenant's signing secret may take to read (a Secrets Manager call with its retries).
 * Past it, the tenant's checks report `error` and the other tenants run.
 */
export const SECRET_LOOKUP_BUDGET_MS = 10_000;

/** Tenant checks only (`filters.platform` false): what the probe Lambda runs. */
export function runTenantChecks(input: RunInput): Promise<Report> {
  return runChecksWith({ ...input, filters: { ...input.filters, platform: false } }, undefined);
}

/**
 * One run with the platform probes given (functions/run.ts gives them all); without them the run
 * must plan no platform check.
 */
export async function runChecksWith(input: RunInput, platformProbes: PlatformProbes | undefined): Promise<Report> {
  const { config, ports } = input;
  // Every running check listens on the run's signal: many at once is expected, not a leak.
  if (input.signal) setMaxListeners(0, input.signal);
  const plan = planRun(config, input.filters);
  const started = ports.now();
  const runId = `${started.toISOString().replace(/\.\d{3}Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;

  const planned = new Set<string>([...plan.tenant, ...plan.tenantDependencies]);
  // The entry points' shared secrets are read while the tenants' are.
  const entryPointReads = planned.has('webhook.entry_points_reject_forgeries')
    ? readEntryPointSecrets(input)
    : Promise.resolve(new Map<string, EntryPointSecret>());
  // Checks that forge with another tenant's secret (an entry point verified per tenant does too).
  const crossTenantWanted = [...planned].some(
    (checkId) =>
      checkId === 'webhook.cross_tenant_signature_rejected' ||
      (checkId === 'webhook.entry_points_reject_forgeries' &&
        config.platform.entryPoints.some((entry) => entry.secret === 'tenant')),
  );
  const secretTenants = [...plan.tenants];
  if (crossTenantWanted) {
    const peerIds = new Set(plan.tenants.flatMap((tenant) => input.peers?.get(tenant.tenantId) ?? []));
    secretTenants.push(
      ...config.tenants.filter((tenant) => peerIds.has(tenant.tenantId) && !secretTenants.includes(tenant)),
    );
  }
  if (crossTenantWanted && secretTenants.length < 2) {
    // One tenant on demand still needs another tenant's secret to forge with.
    const other = config.tenants.find((tenant) => !plan.tenants.includes(tenant));
    if (other) secretTenants.push(other);
  }
  // Every lookup runs at once, each within its budget: one slow secret fails only its tenant.
  const lookups = new Map<string, SecretLookup>(
    await Promise.all(
      secretTenants.map(
        async (tenant) => [tenant.tenantId, await lookupSecretWithin(SECRET_LOOKUP_BUDGET_MS, input, tenant)] as const,
      ),
    ),
  );
  const resolved = [...lookups.values()].flatMap((lookup) => (lookup.ok ? [lookup.tenant] : []));

  const shared = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    let pending = shared.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = work();
      shared.set(key, pending);
    }
    return pending;
  };
  const entryPointSecrets = await entryPointReads;
  const base: Omit<ProbeContext, 'signal'> = { config, ports, tenants: resolved, once, entryPointSecrets };
  const platformResults = Promise.all(
    plan.platform.map((checkId) => runPlatformCheck(input, base, checkId, plan.disabled.has(checkId), platformProbes)),
  );
  const progress: RunProgress = { done: 0, total: plan.tenants.length, failing: 0 };
  // The request budget: tenant starts paced in one-second slots (a run of one tenant starts at once).
  const requestsOf = (tenantId: string) =>
    tenantRequests(config, input.sampling?.get(tenantId), (checkId) => planned.has(checkId));
  const starts =
    input.paced === false
      ? []
      : planStarts(
          plan.tenants.map((tenant) => requestsOf(tenant.tenantId)),
          slotCapacity(config.platform.requestBudgetRps),
        );
  const paceStarted = performance.now();
  const tenantResults = mapWithConcurrency(plan.tenants, config.run.tenantConcurrency, async (tenant, index) => {
    await waitUntil(paceStarted + (starts[index] ?? 0) * 1000, input.signal);
    const results = await runTenant(input, base, tenant, lookups.get(tenant.tenantId), plan.tenant, plan.disabled);
    progress.done += 1;
    if (results.some((result) => needsAttention(result.status))) progress.failing += 1;
    try {
      input.onTenantDone?.({ ...progress });
    } catch {
      // A progress line that fails must not fail the run.
    }
    return results;
  });
  const results = [...(await platformResults), ...(await tenantResults).flat()];

  const tenantIds = plan.tenants.map((tenant) => tenant.tenantId);
  const report: Report = {
    runId,
    startedAt: started.toISOString(),
    finishedAt: ports.now().toISOString(),
    tenants: tenantIds,
    results: sortResults(results, tenantIds),
    alerts: [],
  };
  // The one root for what leaves the run: secrets scrubbed (every form), control characters
  // stripped, then every text cut to its cap (functions/core/sanitize.ts).
  return cleanReport(report, [
    ...resolved.map((tenant) => tenant.signingSecret.reveal()),
    ...[...entryPointSecrets.values()].flatMap((read) => (read.ok ? [read.secret.reveal()] : [])),
  ]);
}

/** Waits until `at` (a `performance.now()` time), or less if the run is cancelled. */
function waitUntil(at: number, signal: AbortSignal | undefined): Promise<void> {
  const ms = at - performance.now();
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** {@link lookupSecret} within `budgetMs`, and no longer than the run (its signal). */
async function lookupSecretWithin(budgetMs: number, input: RunInput, tenant: TenantConfig): Promise<SecretLookup> {
  const ref = tenant.signingSecret;
  // Names the reference, never a value.
  const what = 'secretId' in ref ? `Secrets Manager secret ${ref.secretId}` : 'the secret';
  const timedOut = (): SecretLookup => ({ ok: false, reason: `${what} was not read within ${budgetMs} ms` });
  const cancelled = (): SecretLookup => ({ ok: false, reason: `the run was cancelled before ${what} was read` });
  return withBudget(
    budgetMs,
    input.signal,
    (signal) => {
      // The resolver is told when the lookup is abandoned; the read is left to settle on its own (the SDK's timeouts end it).
      const stopped = new Promise<SecretLookup>((resolve) => {
        const onAbort = () => resolve(input.signal?.aborted ? cancelled() : timedOut());
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      return Promise.race([lookupSecret(input.secrets, tenant, signal), stopped]);
    },
    timedOut,
  );
}

/** The shared secrets of `platform.entryPoints`, each read within SECRET_LOOKUP_BUDGET_MS (by entry point name). */
async function readEntryPointSecrets(input: RunInput): Promise<Map<string, EntryPointSecret>> {
  const shared = input.config.platform.entryPoints.flatMap((entry) =>
    entry.secret === 'tenant' ? [] : [{ name: entry.name, ref: entry.secret }],
  );
  const read = async (name: string, ref: SecretRef): Promise<EntryPointSecret> => {
    const lookup = await lookupSecretWithin(SECRET_LOOKUP_BUDGET_MS, input, { tenantId: name, signingSecret: ref });
    return lookup.ok ? { ok: true, secret: lookup.tenant.signingSecret } : lookup;
  };
  return new Map(await Promise.all(shared.map(async ({ name, ref }) => [name, await read(name, ref)] as const)));
}

async function lookupSecret(secrets: SecretResolver, tenant: TenantConfig, signal: AbortSignal): Promise<SecretLookup> {
  try {
    return {
      ok: true,
      tenant: { tenantId: tenant.tenantId, signingSecret: await secrets.resolve(tenant.signingSecret, signal) },
    };
  } catch (error) {
    // Resolver errors name the reference, never the value.
    return { ok: false, reason: errorMessage(error) };
  }
}

function unmetRequirement(config: Config, requires: Requirement | undefined): Outcome | undefined {
  if (requires === 'database' && config.database === undefined) {
    return skipped('no database configured: add a "database" section to run this check');
  }
  if (requires === 'redis' && config.redis === undefined) {
    return skipped('no Redis configured: add a "redis" section to run this check');
  }
  return undefined;
}

async function runPlatformCheck(
  input: RunInput,
  base: Omit<ProbeContext, 'signal'>,
  checkId: PlatformCheckId,
  disabled: boolean,
  platformProbes: PlatformProbes | undefined,
): Promise<CheckResult> {
  // A programming error, not the platform's: only runTenantChecks runs without them.
  if (platformProbes === undefined) throw new Error(`${checkId} planned in a run without the platform probes`);
  const registration = platformProbes[checkId];
  const { probe } = registration;
  return timed(input.config, checkId, null, async () => {
    if (disabled) return skipped('disabled in the config (checks.disabled)');
    const unmet = unmetRequirement(input.config, registration.requires);
    if (unmet) return unmet;
    if (!probe) return skipped('not built in this version of tenant-canary yet');
    return runWithin(registration.budgetMs(input.config), input.signal, (signal) => probe({ ...base, signal }));
  });
}

async function runTenant(
  input: RunInput,
  base: Omit<ProbeContext, 'signal'>,
  tenant: TenantConfig,
  lookup: SecretLookup | undefined,
  reported: readonly TenantCheckId[],
  disabled: ReadonlySet<CheckId>,
): Promise<CheckResult[]> {
  const { config } = input;
  if (!lookup?.ok) {
    const reason = lookup?.reason ?? 'not resolved';
    return reported.map((checkId) =>
      toResult(
        config,
        checkId,
        tenant.tenantId,
        errored(`the tenant's signing secret could not be read: ${reason}`),
        0,
      ),
    );
  }
  const resolvedTenant = lookup.tenant;
  const sampling = input.sampling?.get(tenant.tenantId);
  // Its peer first among the others: the cross-tenant checks take the first other tenant they can use.
  const peer = base.tenants.find((other) => other.tenantId === input.peers?.get(tenant.tenantId));
  const tenants = peer === undefined ? base.tenants : [peer, ...base.tenants.filter((other) => other !== peer)];
  const outcomes = new Map<TenantCheckId, Promise<CheckResult>>();

  // Each check runs once per tenant, whether reported or only needed by another check.
  const resultOf = (checkId: TenantCheckId): Promise<CheckResult> => {
    let pending = outcomes.get(checkId);
    if (!pending) {
      pending = timed(config, checkId, tenant.tenantId, () => evaluate(checkId));
      outcomes.set(checkId, pending);
    }
    return pending;
  };
  const outcomeOf = async (checkId: TenantCheckId): Promise<Outcome> => {
    const result = await resultOf(checkId);
    const pending = dependencyData.get(checkId);
    return {
      status: result.status,
      summary: result.summary,
      evidence: result.evidence,
      ...(pending === undefined ? {} : { data: pending }),
    };
  };
  const dependencyData = new Map<TenantCheckId, unknown>();

  const evaluate = async (checkId: TenantCheckId): Promise<Outcome> => {
    const registration = TENANT_PROBES[checkId];
    const { probe } = registration;
    if (disabled.has(checkId)) return skipped('disabled in the config (checks.disabled)');
    const unmet = unmetRequirement(config, registration.requires);
    if (unmet) return unmet;
    if (!probe) return skipped('not built in this version of tenant-canary yet');
    const notDue = sampling?.notDue.find((entry) => entry.checkId === checkId);
    if (notDue !== undefined) {
      return isSampledCheck(checkId)
        ? skipped(
            `sampled: runs once every ${config.synthetic.acceptEveryMinutes} minutes for this tenant (synthetic.acceptEveryMinutes), next at ${notDue.nextAt}`,
            { nextAt: notDue.nextAt, acceptEveryMinutes: config.synthetic.acceptEveryMinutes },
          )
        : skipped(
            `rotated: the request budget (platform.requestBudgetRps ${config.platform.requestBudgetRps}) runs this probe for this tenant in turn, next at ${notDue.nextAt}`,
            { nextAt: notDue.nextAt, requestBudgetRps: config.platform.requestBudgetRps },
          );
    }
    const outcome = await runWithin(registration.budgetMs(config), input.signal, (signal) => {
      const ctx: TenantProbeContext = {
        ...base,
        tenants,
        signal,
        tenant: resolvedTenant,
        dependency: (id) => outcomeOf(id as TenantCheckId),
        ...(sampling === undefined ? {} : { sampling }),
      };
      return probe(ctx);
    });
    if (outcome.data !== undefined) dependencyData.set(checkId, outcome.data);
    return outcome;
  };

  return Promise.all(reported.map((checkId) => resultOf(checkId)));
}

/** Runs one probe within its budget; an exception is a canary bug, reported as `error`. */
async function runWithin(
  budgetMs: number,
  parent: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<Outcome>,
): Promise<Outcome> {
  try {
    return await withBudget(budgetMs, parent, work, () =>
      errored(`the check did not finish within its ${budgetMs} ms budget`, { budgetMs }),
    );
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return errored(`the probe failed unexpectedly (a canary bug, please report it): ${message}`);
  }
}

async function timed(
  config: Config,
  checkId: CheckId,
  tenantId: string | null,
  work: () => Promise<Outcome>,
): Promise<CheckResult> {
  const start = performance.now();
  const outcome = await work();
  return toResult(config, checkId, tenantId, outcome, performance.now() - start);
}
