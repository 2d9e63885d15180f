/**
 * The canary watching itself: a heartbeat each sweep whose absence is an alarm (missing data
 * is breaching: the canary stopped), alarms on function errors, throttles, undeliverable
 * tenants and a failing alert path, and a dashboard a person can read at a glance.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CATALOG } from '../functions/core/catalog.ts';
import { DIMENSION, METRIC, METRICS_NAMESPACE } from '../functions/core/telemetry.ts';
import { TIERS, type Tier } from '../functions/core/types.ts';

export interface SelfWatchProps {
  /** The metric `service` of this stack's functions (one per stack). */
  service: string;
  /** The canary is paused on purpose: the heartbeat alarm takes no action. */
  paused: boolean;
  sweep: lambda.IFunction;
  probe: lambda.IFunction;
  queue: sqs.IQueue;
  deadLetterQueue: sqs.IQueue;
  topics: Record<Tier, sns.ITopic>;
  /** Queues of alerts that could not be delivered (subscriptions, the PagerDuty forwarder), by name. */
  deliveryDeadLetters?: readonly (readonly [string, sqs.IQueue])[];
  rateMinutes: number;
  /** Sweep intervals without a heartbeat before the alarm fires. */
  heartbeatMissedSweeps: number;
  /** Dead-letter messages that alarm. */
  dlqDepth: number;
  /** The severity the canary's own alarms are labelled with (the heartbeat and alert-path alarms are P1). */
  alarmTier: Tier;
  /** Where every alarm goes: a topic of its own, apart from the tier topics it watches. */
  alarmTopic: sns.ITopic;
  /** The probe's log group: the dashboard lists the tenants failing now from its lines. */
  probeLogGroupName: string;
  /** The page of the canary's own runbook (docs/operations.md as published); each alarm links its section. @default the repository path */
  runbookUrl?: string | undefined;
}

/** The section of docs/operations.md that explains an alarm (its id, lowercased). */
export function alarmRunbookLink(runbookUrl: string | undefined, alarmId: string): string {
  const anchor = alarmId.toLowerCase();
  if (runbookUrl === undefined) return `tenant-canary docs/operations.md#${anchor}`;
  const url = new URL(runbookUrl);
  url.hash = anchor;
  return url.toString();
}

/** Intervals without a judged sweep before JudgementMissing (a sweep is judged one to two intervals after it starts). */
const JUDGEMENT_MISSED_INTERVALS = 3;
/** Consecutive intervals with an incomplete judgement that alarm (one alone is a tenant in the DLQ, which DeadLetters reports). */
const INCOMPLETE_SWEEP_INTERVALS = 2;

export class SelfWatch extends Construct {
  readonly heartbeatAlarm: cloudwatch.Alarm;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: SelfWatchProps) {
    super(scope, id);
    const interval = Duration.minutes(props.rateMinutes);
    const canaryMetric = (metricName: string, dimensions: Record<string, string> = {}, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { [DIMENSION.service]: props.service, ...dimensions },
        statistic,
        period: interval,
      });
    /**
     * Sends the alarm (and its OK) to the alarm topic, named `<stack>-<id>` (the topic policy
     * admits this stack's alarms by that prefix), its description labelled with its severity and
     * ending with its runbook section.
     */
    const toTopic = (alarm: cloudwatch.Alarm, tier: Tier) => {
      alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
      alarm.addOkAction(new actions.SnsAction(props.alarmTopic));
      const resource = alarm.node.defaultChild as cloudwatch.CfnAlarm;
      resource.alarmName = `${Stack.of(this).stackName}-${alarm.node.id}`;
      resource.alarmDescription = `[${tier}] ${resource.alarmDescription ?? ''} Runbook: ${alarmRunbookLink(props.runbookUrl, alarm.node.id)}`;
      this.alarms.push(alarm);
      return alarm;
    };

    this.heartbeatAlarm = toTopic(
      new cloudwatch.Alarm(this, 'HeartbeatMissing', {
        alarmDescription: `tenant-canary stopped: no sweep finished in ${props.heartbeatMissedSweeps} intervals. Nothing is being checked. See the sweep's logs and the schedule.`,
        metric: canaryMetric(METRIC.heartbeat),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: props.heartbeatMissedSweeps,
        datapointsToAlarm: props.heartbeatMissedSweeps,
        // Paused, no heartbeat is expected: missing data must not leave the alarm in ALARM for the
        // moment it is resumed (it would then never page for a canary that is really broken).
        treatMissingData: props.paused
          ? cloudwatch.TreatMissingData.NOT_BREACHING
          : cloudwatch.TreatMissingData.BREACHING,
        actionsEnabled: !props.paused,
      }),
      'P1',
    );
    // Sweeps run but none is judged: tenant results reach nobody (the ledger or the judges are broken).
    toTopic(
      new cloudwatch.Alarm(this, 'JudgementMissing', {
        alarmDescription: `no sweep was judged in ${JUDGEMENT_MISSED_INTERVALS} intervals: tenant results are recorded but no alert is decided from them. See the probe and sweep logs for "could not be judged" and the sweep table.`,
        metric: canaryMetric(METRIC.sweepsJudged),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: JUDGEMENT_MISSED_INTERVALS,
        datapointsToAlarm: JUDGEMENT_MISSED_INTERVALS,
        treatMissingData: props.paused
          ? cloudwatch.TreatMissingData.NOT_BREACHING
          : cloudwatch.TreatMissingData.BREACHING,
        actionsEnabled: !props.paused,
      }),
      'P1',
    );
    /** An alarm when `metric` reaches `threshold` in one interval; no data is fine. */
    const atLeast = (id: string, alarmDescription: string, metric: cloudwatch.IMetric, threshold: number, tier: Tier) =>
      toTopic(
        new cloudwatch.Alarm(this, id, {
          alarmDescription,
          metric,
          threshold,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
        tier,
      );
    const tier = props.alarmTier;
    const functions = [
      ['Sweep', props.sweep],
      ['Probe', props.probe],
    ] as const;
    for (const [name, fn] of functions) {
      atLeast(
        `${name}Errors`,
        `tenant-canary ${name.toLowerCase()} function failed (an exception or a timeout, not a failing check). See its logs.`,
        fn.metricErrors({ period: interval, statistic: 'Sum' }),
        1,
        tier,
      );
      atLeast(
        `${name}Throttles`,
        `tenant-canary ${name.toLowerCase()} function is throttled: the account's Lambda concurrency is exhausted, so checks run late or not at all.`,
        fn.metricThrottles({ period: interval, statistic: 'Sum' }),
        1,
        tier,
      );
    }
    const dlqDepth = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: interval,
      statistic: 'Maximum',
    });
    atLeast(
      'DeadLetters',
      'tenants could not be probed (their message failed every delivery): usually an unreadable signing secret or an unreachable database. First look: the probe logs for "record failed" (each names the tenant and the cause). Fix the cause, then purge the dead-letter queue: the next sweep probes every tenant again.',
      dlqDepth,
      props.dlqDepth,
      tier,
    );
    atLeast(
      'ProbeBacklogOld',
      `a tenant has waited in the probe queue for a whole interval (${props.rateMinutes} min): sweeps do not drain before the next one starts, so results come late. Raise deployment.probe.maxConcurrency, or use run.roundTrip "deferred".`,
      props.queue.metricApproximateAgeOfOldestMessage({ period: interval, statistic: 'Maximum' }),
      props.rateMinutes * 60,
      tier,
    );
    toTopic(
      new cloudwatch.Alarm(this, 'SweepsIncomplete', {
        alarmDescription: `sweeps were judged at their drain deadline without every tenant in ${INCOMPLETE_SWEEP_INTERVALS} intervals running (canary.sweep_complete names the missing tenants): sweeps do not drain, or tenants end in the dead-letter queue.`,
        metric: canaryMetric(METRIC.sweepsIncomplete),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: INCOMPLETE_SWEEP_INTERVALS,
        datapointsToAlarm: INCOMPLETE_SWEEP_INTERVALS,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      tier,
    );
    // Alerts that did not reach their subscriber: SNS's own count per topic, and what was parked.
    for (const tier of TIERS) {
      atLeast(
        `NotificationsFailed${tier}`,
        `SNS could not deliver ${tier} alerts to a subscription (email, HTTPS or the PagerDuty forwarder): the on-call may not have been told. See the delivery dead-letter queue.`,
        props.topics[tier].metric('NumberOfNotificationsFailed', { period: interval, statistic: 'Sum' }),
        1,
        'P1',
      );
    }
    for (const [name, queue] of props.deliveryDeadLetters ?? []) {
      atLeast(
        `${name}DeadLetters`,
        `alerts were parked in the ${name} dead-letter queue: they were never delivered. Read the messages, fix the subscription (or the PagerDuty routing key), then redrive.`,
        queue.metricApproximateNumberOfMessagesVisible({ period: interval, statistic: 'Maximum' }),
        1,
        'P1',
      );
    }
    atLeast(
      'TenantsNotQueued',
      'the sweep could not queue some tenants: they were not probed this sweep. See the sweep logs.',
      canaryMetric(METRIC.tenantsNotEnqueued),
      1,
      tier,
    );
    atLeast(
      'AlertingFailures',
      'the canary found results but could not record or send alerts (state table or SNS unreachable): failures may go unannounced.',
      canaryMetric(METRIC.alertingFailures),
      1,
      'P1',
    );

    // The dashboard: what is failing, how fast round trips are, what was sent, and whether the canary itself is well.
    const wide = 12;
    const failing = (status: string) =>
      CATALOG.map((entry) =>
        canaryMetric(METRIC.checkResults, { [DIMENSION.check]: entry.id, [DIMENSION.status]: status }).with({
          label: entry.id,
        }),
      );
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(24),
      widgets: [
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Canary alarms',
            alarms: this.alarms,
            width: 24,
            height: 3,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Failing checks by check (results with status fail)',
            left: failing('fail'),
            stacked: true,
            width: wide,
            legendPosition: cloudwatch.LegendPosition.RIGHT,
          }),
          new cloudwatch.GraphWidget({
            title: 'Checks the canary could not decide (status error)',
            left: failing('error'),
            stacked: true,
            width: wide,
            legendPosition: cloudwatch.LegendPosition.RIGHT,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Enhancement round trip (seconds)',
            left: [
              canaryMetric(METRIC.roundTripLatency, {}, 'p50').with({ label: 'p50' }),
              canaryMetric(METRIC.roundTripLatency, {}, 'p95').with({ label: 'p95' }),
            ],
            width: wide,
          }),
          new cloudwatch.GraphWidget({
            title: 'Alerts sent by tier',
            left: TIERS.map((t) => canaryMetric(METRIC.alertsSent, { [DIMENSION.tier]: t }).with({ label: t })),
            stacked: true,
            width: wide,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Sweep duration (ms) and heartbeat',
            left: [
              canaryMetric(METRIC.sweepDuration, {}, 'Average').with({ label: 'average' }),
              canaryMetric(METRIC.sweepDuration, {}, 'Maximum').with({ label: 'max' }),
            ],
            right: [canaryMetric(METRIC.heartbeat).with({ label: 'heartbeats' })],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Tenants queued per sweep',
            left: [
              canaryMetric(METRIC.tenantsEnqueued).with({ label: 'queued' }),
              canaryMetric(METRIC.tenantsNotEnqueued).with({ label: 'not queued' }),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Probe queue',
            left: [props.queue.metricApproximateAgeOfOldestMessage({ period: interval }).with({ label: 'oldest (s)' })],
            right: [dlqDepth.with({ label: 'dead letters' })],
            width: 8,
          }),
        ],
        [
          new cloudwatch.LogQueryWidget({
            title: 'Tenants failing now (latest probe of each tenant)',
            logGroupNames: [props.probeLogGroupName],
            queryLines: [
              'fields @timestamp, tenantId, failingCount, failingChecks',
              'filter message = "tenant probed"',
              'stats latest(failingCount) as failing, latest(failingChecks) as checks, max(@timestamp) as lastProbed by tenantId',
              'filter failing > 0',
              'sort failing desc, lastProbed desc',
              'limit 100',
            ],
            width: 16,
            height: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Undelivered alerts (dead-letter queues)',
            left: (props.deliveryDeadLetters ?? []).map(([name, queue]) =>
              queue
                .metricApproximateNumberOfMessagesVisible({ period: interval, statistic: 'Maximum' })
                .with({ label: name }),
            ),
            width: 8,
            height: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Function errors and throttles',
            left: functions.flatMap(([name, fn]) => [
              fn.metricErrors({ period: interval }).with({ label: `${name} errors` }),
              fn.metricThrottles({ period: interval }).with({ label: `${name} throttles` }),
            ]),
            width: wide,
          }),
          new cloudwatch.GraphWidget({
            title: 'Function duration p95 (ms)',
            left: functions.map(([name, fn]) =>
              fn.metricDuration({ period: interval, statistic: 'p95' }).with({ label: name }),
            ),
            width: wide,
          }),
        ],
      ],
    });
  }
}
