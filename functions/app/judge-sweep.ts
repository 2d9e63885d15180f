/**
 * The judgement of a sweep: its tenants' recorded results judged as one run (the alert path:
 * functions/app/alerting.ts).
 *
 * The protocol (rules in functions/core/sweep-protocol.ts): a sweep is judged once, under a
 * lease, by the probe whose results complete it or, failing that, by the first sweep after its
 * drain deadline. A judgement that fails or runs out of time gives the lease back and leaves the
 * sweep judgeable; a judge that dies leaves a lease that expires. A sweep judged at its deadline
 * without every tenant says so: `canary.sweep_complete` fails, naming the missing tenants. The
 * alert policy counts a sweep once however often it is judged (AlertPolicyInput.sweepId).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Config } from '../core/config.ts';
import { describeError } from '../core/errors.ts';
import { JUDGE_BUDGET_MS, JUDGE_LEASE_MS, JUDGE_MARGIN_MS, sweepCompleteResult } from '../core/sweep-protocol.ts';
import { METRIC } from '../core/telemetry.ts';
import type { SweepLease, SweepLedger } from '../ports.ts';
import { runAlertPath } from './alerting.ts';
import type { AppDeps } from './deps.ts';

export type JudgeOutcome =
  /** Judged with every expected tenant. */
  | 'judged'
  /** Judged at its deadline without some tenants (canary.sweep_complete fails). */
  | 'judged-incomplete'
  /** Not complete and its deadline not passed: left for later. */
  | 'not-due'
  /** Someone else holds it, or it was judged already. */
  | 'taken'
  /** The judgement failed: the sweep stays judgeable. */
  | 'failed'
  /** Too little time left in this invocation to judge: a later sweep does. */
  | 'left';

export interface JudgeOptions {
  /** Time the judgement may take. @default JUDGE_BUDGET_MS */
  budgetMs?: number;
  /** What is left of the invocation; a judgement is not started without its budget and a margin. @default unlimited */
  remainingMs?: () => number;
}

/** Judges a sweep if it is complete or past its deadline and nobody else holds it. Never throws. */
export async function judgeSweepIfDue(
  deps: AppDeps,
  logger: Logger,
  config: Config,
  sweepId: string,
  options: JudgeOptions = {},
): Promise<JudgeOutcome> {
  const log = logger.createChild({ persistentKeys: { sweepId } });
  const budgetMs = options.budgetMs ?? JUDGE_BUDGET_MS;
  const remaining = options.remainingMs?.() ?? Number.POSITIVE_INFINITY;
  if (remaining < budgetMs + JUDGE_MARGIN_MS) {
    log.warn('too little time left to judge a due sweep; a later sweep judges it', { remainingMs: remaining });
    return 'left';
  }
  let ledger: SweepLedger;
  try {
    ledger = await deps.sweepLedger();
  } catch (error) {
    return failed(deps, log, error);
  }
  // Two looks: results recorded while we held the lease are seen once it is given back.
  for (let look = 1; look <= 2; look++) {
    let lease: SweepLease | null;
    try {
      lease = await ledger.claim(sweepId, deps.now(), JUDGE_LEASE_MS);
    } catch (error) {
      return failed(deps, log, error);
    }
    if (lease === null) return 'taken';
    try {
      const outcome = await withinBudget(budgetMs, () => judgeHeld(deps, log, config, ledger, lease));
      if (outcome !== 'not-due') return outcome;
    } catch (error) {
      await ledger.release(lease).catch(() => {});
      return failed(deps, log, error);
    }
    if (look === 2) return 'not-due';
    // A report that came in while we held the lease saw it taken and left: look once more.
    try {
      const status = await ledger.status(sweepId);
      if (status === undefined || status.reported < status.expected) return 'not-due';
    } catch (error) {
      return failed(deps, log, error);
    }
  }
  return 'not-due';
}

async function judgeHeld(
  deps: AppDeps,
  log: Logger,
  config: Config,
  ledger: SweepLedger,
  lease: SweepLease,
): Promise<JudgeOutcome> {
  const { sweepId } = lease;
  const [status, parts, expected] = await Promise.all([
    ledger.status(sweepId),
    ledger.results(sweepId),
    ledger.expectedTenants(sweepId),
  ]);
  if (status === undefined) return 'taken';
  const recorded = new Set(parts.map((part) => part.tenantId));
  const missing = expected.filter((tenantId) => !recorded.has(tenantId));
  if (missing.length > 0 && deps.now().getTime() < Date.parse(status.deadline)) {
    await ledger.release(lease);
    return 'not-due';
  }
  const complete = missing.length === 0;
  const results = [
    sweepCompleteResult({ sweepId, expected, missing, deadline: status.deadline }),
    ...parts.flatMap((part) => part.results),
  ];
  const alerts = await runAlertPath(
    deps,
    log,
    config,
    { results, tenants: parts.map((part) => part.tenantId), sweepId },
    // A failure leaves the sweep judgeable: the caller gives the lease back.
    { onFailure: 'throw' },
  );
  if (!(await ledger.finish(lease, { complete }, deps.now()))) {
    // Our lease ran out and another judge took over: it judges (the policy counts the sweep once).
    log.warn('lost the lease on a sweep while judging it; the judge that took over finishes it');
    return 'taken';
  }
  deps.metrics.addMetric(METRIC.sweepsJudged, MetricUnit.Count, 1);
  await pingHeartbeat(deps, log);
  deps.metrics.addMetric(METRIC.sweepsIncomplete, MetricUnit.Count, complete ? 0 : 1);
  const fields = { tenants: recorded.size, expected: expected.length, alerts: alerts.length };
  if (complete) log.info('sweep judged', fields);
  else log.warn('sweep judged incomplete at its drain deadline', { ...fields, missingTenants: missing.slice(0, 50) });
  return complete ? 'judged' : 'judged-incomplete';
}

/** The dead-man's switch: a failed ping is logged and counted, never a failed judgement. */
async function pingHeartbeat(deps: AppDeps, log: Logger): Promise<void> {
  if (deps.heartbeat === undefined) return;
  try {
    await deps.heartbeat();
  } catch (error) {
    deps.metrics.addMetric(METRIC.heartbeatPingFailures, MetricUnit.Count, 1);
    log.warn('the external heartbeat could not be pinged', { error: describeError(error) });
  }
}

function failed(deps: AppDeps, log: Logger, error: unknown): JudgeOutcome {
  deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
  log.error('the sweep could not be judged now; it stays judgeable', { error: describeError(error) });
  return 'failed';
}

/** Runs `work`, rejecting once `budgetMs` has passed (the work is abandoned; its lease expires). */
async function withinBudget<T>(budgetMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`judging took longer than its budget of ${budgetMs} ms`)), budgetMs);
    timer.unref(); // an abandoned judgement must not keep a process alive
  });
  try {
    return await Promise.race([work(), expired]);
  } finally {
    clearTimeout(timer);
  }
}
