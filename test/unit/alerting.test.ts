/**
 * The deployed alert path's failure modes (functions/app/alerting.ts, `runAlertPath`): in `log` mode
 * a store or publisher that fails costs the run its alerts (logged and counted), but once alerts are
 * published, a fault after that (their metrics, their log lines) never reports them as unsent.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { runAlertPath } from '../../functions/app/alerting.ts';
import type { AlertMessage } from '../../functions/core/alert-policy.ts';
import { catalogEntry } from '../../functions/core/catalog.ts';
import { parseConfig } from '../../functions/core/config.ts';
import { METRIC } from '../../functions/core/telemetry.ts';
import type { CheckResult } from '../../functions/core/types.ts';
import { appDeps, countingMetrics, recordingPublisher } from '../support/app-deps.ts';
import { silentLogger } from '../support/telemetry.ts';

const NOW = new Date('2026-11-27T10:05:00Z');
const config = parseConfig({
  platform: { baseUrl: 'https://platform.invalid' },
  tenants: [{ tenantId: 'acme', signingSecret: { value: 'a' } }],
});
const forged: CheckResult = {
  checkId: 'webhook.bad_signature_rejected',
  tenantId: 'acme',
  status: 'fail',
  tier: 'P0',
  summary: 'a forged signature was accepted',
  durationMs: 5,
  evidence: {},
  runbook: catalogEntry('webhook.bad_signature_rejected').runbook,
};
const run = { results: [forged], tenants: ['acme'] };

describe('the alert path in log mode', () => {
  it('returns no alerts and counts the failure when the state store cannot be used', async () => {
    const { metrics, counts } = countingMetrics();
    const published: AlertMessage[] = [];
    const deps = appDeps(config, () => NOW, {
      metrics,
      stateStore: async () => {
        throw new Error('DynamoDB unreachable');
      },
      publisher: () => recordingPublisher(published),
    });

    const alerts = await runAlertPath(deps, silentLogger, config, run, { onFailure: 'log' });

    expect(alerts).toEqual([]);
    expect(published).toEqual([]);
    expect(counts.get(METRIC.alertingFailures)).toBe(1);
  });

  it('does not report published alerts as unsent when logging them fails', async () => {
    const { metrics, counts } = countingMetrics();
    const published: AlertMessage[] = [];
    const deps = appDeps(config, () => NOW, { metrics, publisher: () => recordingPublisher(published) });
    const log = {
      ...silentLogger,
      info: () => {
        throw new Error('log sink broke');
      },
    } as unknown as Logger;

    const answer = runAlertPath(deps, log, config, run, { onFailure: 'log' });

    await expect(answer).rejects.toThrow('log sink broke');
    expect(published.map((message) => message.dedupKey)).toHaveLength(1);
    expect(counts.get(METRIC.alertingFailures)).toBeUndefined();
    expect(counts.get(METRIC.alertsSent)).toBe(1);
  });
});
