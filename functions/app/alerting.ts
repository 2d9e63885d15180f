/**
 * The alert path of one run, in one place: {@link runAlertPath} is the one entry of the deployed
 * functions (the sweep's platform results, a judged sweep, a probe batch's tenants of no sweep, an
 * on-demand run); {@link evaluateAlerts} is its work on a given store and publisher (also the
 * local run's): load the incidents the results touch, apply the policy (functions/core/alert-policy.ts),
 * claim the messages to send with a conditional write, publish them, and record which were delivered.
 *
 * Claim first, publish second: of two runs racing on one incident only the one whose write
 * wins sends; the loser re-reads and decides again on the winner's state. A message that cannot
 * be published stays in the incident's outbox and goes out next run (at-least-once); a run that
 * dies after claiming leaves a claim that expires after `claimMs`.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type AlertMessage,
  type AlertPolicyOptions,
  type AlertStateMap,
  alertKeysToLoad,
  alertPolicyOptions,
  claimAlerts,
  evaluateAlertPolicy,
  type IncidentRecord,
  settleAlerts,
  toAlertSummary,
} from '../core/alert-policy.ts';
import type { Config } from '../core/config.ts';
import { describeError } from '../core/errors.ts';
import { METRIC } from '../core/telemetry.ts';
import type { AlertSummary, CheckResult, Report } from '../core/types.ts';
import type { AlertPublisher, AlertStateStore, IncidentWrite } from '../ports.ts';
import type { AppDeps } from './deps.ts';
import { recordAlertMetrics } from './telemetry.ts';

/** The run whose results are judged for alerts. */
export interface AlertRun {
  results: readonly CheckResult[];
  /** The tenants the run covered (breadth counts against them). */
  tenants: readonly string[];
  /** The sweep's id when the run is a sweep (ordered, may be judged again; AlertPolicyInput.sweepId). */
  sweepId?: string | undefined;
}

export interface AlertRunOptions {
  /**
   * When the alert path cannot be used: `throw` for a sweep's judge (the sweep stays judgeable and
   * is judged again), `log` for a run nobody judges again (logged and counted; no alerts returned).
   */
  onFailure: 'throw' | 'log';
}

/**
 * The deployed alert path (DynamoDB state, the configured publisher, the function's clock): judges
 * `run` as one run, publishes, counts the alerts sent per tier and logs each one.
 */
export async function runAlertPath(
  deps: AppDeps,
  log: Logger,
  config: Config,
  run: AlertRun,
  options: AlertRunOptions,
): Promise<AlertSummary[]> {
  let alerts: AlertSummary[];
  // Only the store, the publisher and the policy: once alerts are published they are returned.
  try {
    alerts = await evaluateAlerts({
      report: { results: [...run.results] },
      tenants: run.tenants,
      sweepId: run.sweepId,
      store: await deps.stateStore(),
      publisher: deps.publisher(config),
      now: deps.now(),
      options: alertPolicyOptions(config),
      onEvent: (event) => log.warn('alerting', { alertEvent: event }),
    });
  } catch (error) {
    if (options.onFailure === 'throw') throw error;
    deps.metrics.addMetric(METRIC.alertingFailures, MetricUnit.Count, 1);
    log.error('the alert path failed: alerts of this run are not sent', { error: describeError(error) });
    return [];
  }
  recordAlertMetrics(deps.metrics, alerts);
  for (const alert of alerts) log.info('alert sent', { alert });
  return alerts;
}

export interface EvaluateAlertsInput {
  report: Pick<Report, 'results'>;
  /** The tenants this run covered (breadth counts against them). */
  tenants: readonly string[];
  /** The sweep's id when the run is a sweep (ordered, may be judged again); see AlertPolicyInput.sweepId. */
  sweepId?: string | undefined;
  store: AlertStateStore;
  /** null: dry run; messages are marked as sent without publishing, so they do not fire again. */
  publisher: AlertPublisher | null;
  now: Date;
  options: AlertPolicyOptions;
  /** How long claimed messages are reserved for this run's publisher. @default 120000 */
  claimMs?: number;
  /** What happened besides the returned alerts (for logs; carries ids and reasons, never content). */
  onEvent?: (event: AlertEvent) => void;
}

export type AlertEvent =
  | { type: 'conflict'; keys: string[]; attempt: number }
  | { type: 'gave-up'; keys: string[] }
  | { type: 'undelivered'; id: string; dedupKey: string; reason: string };

const DEFAULT_CLAIM_MS = 120_000;
const ATTEMPTS = 4;

/** Runs the alert path for one report; returns the alerts sent (or, dry, that would be), for `report.alerts`. */
export async function evaluateAlerts(input: EvaluateAlertsInput): Promise<AlertSummary[]> {
  const { store, now, publisher } = input;
  const results = input.report.results;
  const emit = input.onEvent ?? (() => {});
  const claimUntil = new Date(now.getTime() + (input.claimMs ?? DEFAULT_CLAIM_MS));

  // Only keys that can have state to act on: those of failing results and the open incidents
  // (the policy decides the same as from every key the results touch; alertKeysToLoad).
  const loaded = await store.load([...new Set([...alertKeysToLoad(results), ...(await store.openKeys())])]);
  const original: AlertStateMap = Object.fromEntries([...loaded].map(([key, item]) => [key, item.record]));
  const versions = new Map([...loaded].map(([key, item]) => [key, item.version]));
  let previous: AlertStateMap = { ...original };
  let todo: Set<string> | undefined;
  const written = new Map<string, IncidentRecord>();
  const toSend: AlertMessage[] = [];

  for (let attempt = 1; ; attempt++) {
    const { state, messages } = evaluateAlertPolicy({
      previous,
      results,
      tenants: input.tenants,
      now,
      options: input.options,
      sweepId: input.sweepId,
    });
    const dueByKey = groupByKey(messages);
    const writes: IncidentWrite[] = [];
    const dueOfWrite = new Map<string, AlertMessage[]>();
    for (const [key, next] of Object.entries(state)) {
      if (todo !== undefined && !todo.has(key)) continue;
      const due = dueByKey.get(key) ?? [];
      const ids = new Set(due.map((m) => m.id));
      // A dry run settles at once: one write, and the messages count as sent.
      const record =
        due.length === 0
          ? next
          : publisher === null
            ? settleAlerts(next, ids, new Set())
            : claimAlerts(next, ids, claimUntil);
      if (record === previous[key] || JSON.stringify(record) === JSON.stringify(previous[key])) continue;
      writes.push({ record, expectedVersion: versions.get(key) ?? null });
      dueOfWrite.set(key, due);
    }
    const saved =
      writes.length === 0 ? { written: new Map<string, number>(), conflicts: [] } : await store.save(writes);
    for (const write of writes) {
      const key = write.record.dedupKey;
      const version = saved.written.get(key);
      if (version === undefined) continue;
      written.set(key, write.record);
      versions.set(key, version);
      toSend.push(...(dueOfWrite.get(key) ?? []));
    }
    if (saved.conflicts.length === 0) break;
    emit({ type: 'conflict', keys: saved.conflicts, attempt });
    if (attempt === ATTEMPTS) {
      // Another run keeps winning these keys: it owns them this time.
      emit({ type: 'gave-up', keys: saved.conflicts });
      break;
    }
    // Decide again on what the winner wrote; keys already written keep their first decision.
    const fresh = await store.load(saved.conflicts);
    previous = { ...previous };
    for (const key of saved.conflicts) {
      const item = fresh.get(key);
      if (item === undefined) {
        delete previous[key];
        versions.delete(key);
      } else {
        previous[key] = item.record;
        versions.set(key, item.version);
      }
    }
    todo = new Set(saved.conflicts);
  }

  if (toSend.length === 0) return [];
  if (publisher === null) return toSend.map(toAlertSummary);

  const delivered = new Set<string>();
  const undelivered = new Map<string, string>();
  try {
    const outcome = await publisher.publish(toSend);
    for (const id of outcome.delivered) delivered.add(id);
    for (const { id, reason } of outcome.failed) undelivered.set(id, reason);
  } catch (error) {
    for (const message of toSend) undelivered.set(message.id, error instanceof Error ? error.name : 'error');
  }
  for (const message of toSend) {
    if (!delivered.has(message.id) && !undelivered.has(message.id)) undelivered.set(message.id, 'not reported');
  }
  for (const message of toSend) {
    const reason = undelivered.get(message.id);
    if (reason !== undefined) emit({ type: 'undelivered', id: message.id, dedupKey: message.dedupKey, reason });
  }
  await settle(store, written, versions, delivered, new Set(undelivered.keys()));
  return toSend.filter((message) => delivered.has(message.id)).map(toAlertSummary);
}

/** Delivered messages leave the outbox; undelivered ones are released for the next run. */
async function settle(
  store: AlertStateStore,
  written: ReadonlyMap<string, IncidentRecord>,
  versions: Map<string, number>,
  delivered: ReadonlySet<string>,
  undelivered: ReadonlySet<string>,
): Promise<void> {
  let current = new Map(written);
  for (let attempt = 1; attempt <= ATTEMPTS && current.size > 0; attempt++) {
    const writes: IncidentWrite[] = [];
    for (const [key, record] of current) {
      const settled = settleAlerts(record, delivered, undelivered);
      if (settled !== record) writes.push({ record: settled, expectedVersion: versions.get(key) ?? null });
    }
    if (writes.length === 0) return;
    const saved = await store.save(writes);
    if (saved.conflicts.length === 0) return;
    // Someone wrote the incident since our claim: settle on top of their version.
    const fresh = await store.load(saved.conflicts);
    current = new Map();
    for (const [key, item] of fresh) {
      current.set(key, item.record);
      versions.set(key, item.version);
    }
  }
}

function groupByKey(messages: readonly AlertMessage[]): Map<string, AlertMessage[]> {
  const out = new Map<string, AlertMessage[]>();
  for (const message of messages) {
    const list = out.get(message.dedupKey) ?? [];
    list.push(message);
    out.set(message.dedupKey, list);
  }
  return out;
}
