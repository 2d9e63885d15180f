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
/** Half the dashboard's 24 columns. */
const HALF_WIDTH = 12;

export class SelfWatch extends Construct {
  readonly heartbeatAlarm: cloudwatch.Alarm;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  private readonly props: SelfWatchProps;
  /** One sweep interval: the period of every metric. */
  private readonly interval: Duration;
  private readonly functions: readonly (readonly [string, lambda.IFunction])[];

  constructor(scope: Construct, id: string, props: SelfWatchProps) {
    super(scope, id);
    this.props = props;
    this.interval = Duration.minutes(props.rateMinutes);
    this.functions = [
      ['Sweep', props.sweep],
      ['Probe', props.probe],
    ];
    this.heartbeatAlarm = this.whenMissing(
      'HeartbeatMissing',
      `tenant-canary stopped: no sweep finished in ${props.heartbeatMissedSweeps} intervals. Nothing is being checked. See the sweep's logs and the schedule.`,
      METRIC.heartbeat,
      props.heartbeatMissedSweeps,
    );
    // Sweeps run but none is judged: tenant results reach nobody (the ledger or the judges are broken).
    this.whenMissing(
      'JudgementMissing',
      `no sweep was judged in ${JUDGEMENT_MISSED_INTERVALS} intervals: tenant results are recorded but no alert is decided from them. See the probe and sweep logs for "could not be judged" and the sweep table.`,
      METRIC.sweepsJudged,
      JUDGEMENT_MISSED_INTERVALS,
    );
    this.watchFunctions();
    this.watchProbeQueue();
    this.watchAlertDelivery();
    this.atLeast(
      'TenantsNotQueued',
      'the sweep could not queue some tenants: they were not probed this sweep. See the sweep logs.',
      this.canaryMetric(METRIC.tenantsNotEnqueued),
      1,
      props.alarmTier,
    );
    this.atLeast(
      'AlertingFailures',
      'the canary found results but could not record or send alerts (state table or SNS unreachable): failures may go unannounced.',
      this.canaryMetric(METRIC.alertingFailures),
      1,
      'P1',
    );
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(24),
      widgets: [...this.resultRows(), ...this.canaryRows()],
    });
  }

  /** One of the canary's own metrics, for this stack's `service`, over one interval. */
  private canaryMetric(metricName: string, dimensions: Record<string, string> = {}, statistic = 'Sum') {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { [DIMENSION.service]: this.props.service, ...dimensions },
      statistic,
      period: this.interval,
    });
  }

  /** The messages waiting in a queue, at the most, over one interval. */
  private queueDepth(queue: sqs.IQueue): cloudwatch.Metric {
    return queue.metricApproximateNumberOfMessagesVisible({ period: this.interval, statistic: 'Maximum' });
  }

  /**
   * Sends the alarm (and its OK) to the alarm topic, named `<stack>-<id>` (the topic policy
   * admits this stack's alarms by that prefix), its description labelled with its severity and
   * ending with its runbook section.
   */
  private toTopic(alarm: cloudwatch.Alarm, tier: Tier): cloudwatch.Alarm {
    alarm.addAlarmAction(new actions.SnsAction(this.props.alarmTopic));
    alarm.addOkAction(new actions.SnsAction(this.props.alarmTopic));
    const resource = alarm.node.defaultChild as cloudwatch.CfnAlarm;
    resource.alarmName = `${Stack.of(this).stackName}-${alarm.node.id}`;
    resource.alarmDescription = `[${tier}] ${resource.alarmDescription ?? ''} Runbook: ${alarmRunbookLink(this.props.runbookUrl, alarm.node.id)}`;
    this.alarms.push(alarm);
    return alarm;
  }

  /**
   * A P1 alarm when the canary's `metricName` is missing (below 1) for `intervals` intervals in a
   * row. Missing data is breaching (the canary stopped), except while paused: then it is not, and
   * no action is taken, so the alarm is not left in ALARM for the moment it is resumed (it would
   * then never page for a canary that is really broken).
   */
  private whenMissing(id: string, alarmDescription: string, metricName: string, intervals: number): cloudwatch.Alarm {
    const { paused } = this.props;
    return this.toTopic(
      new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric: this.canaryMetric(metricName),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: intervals,
        datapointsToAlarm: intervals,
        treatMissingData: paused ? cloudwatch.TreatMissingData.NOT_BREACHING : cloudwatch.TreatMissingData.BREACHING,
        actionsEnabled: !paused,
      }),
      'P1',
    );
  }

  /** An alarm when `metric` reaches `threshold` in one interval; no data is fine. */
  private atLeast(id: string, alarmDescription: string, metric: cloudwatch.IMetric, threshold: number, tier: Tier) {
    return this.toTopic(
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
  }

  /** Errors and throttles of the sweep and the probe. */
  private watchFunctions(): void {
    for (const [name, fn] of this.functions) {
      this.atLeast(
        `${name}Errors`,
        `tenant-canary ${name.toLowerCase()} function failed (an exception or a timeout, not a failing check). See its logs.`,
        fn.metricErrors({ period: this.interval, statistic: 'Sum' }),
        1,
        this.props.alarmTier,
      );
      this.atLeast(
        `${name}Throttles`,
        `tenant-canary ${name.toLowerCase()} function is throttled: the account's Lambda concurrency is exhausted, so checks run late or not at all.`,
        fn.metricThrottles({ period: this.interval, statistic: 'Sum' }),
        1,
        this.props.alarmTier,
      );
    }
  }

  /** Tenants that could not be probed, a queue that does not drain, and sweeps judged incomplete. */
  private watchProbeQueue(): void {
    const { props } = this;
    this.atLeast(
      'DeadLetters',
      'tenants could not be probed (their message failed every delivery): usually an unreadable signing secret or an unreachable database. First look: the probe logs for "record failed" (each names the tenant and the cause). Fix the cause, then purge the dead-letter queue: the next sweep probes every tenant again.',
      this.queueDepth(props.deadLetterQueue),
      props.dlqDepth,
      props.alarmTier,
    );
    this.atLeast(
      'ProbeBacklogOld',
      `a tenant has waited in the probe queue for a whole interval (${props.rateMinutes} min): sweeps do not drain before the next one starts, so results come late. Raise deployment.probe.maxConcurrency, or use run.roundTrip "deferred".`,
      props.queue.metricApproximateAgeOfOldestMessage({ period: this.interval, statistic: 'Maximum' }),
      props.rateMinutes * 60,
      props.alarmTier,
    );
    this.toTopic(
      new cloudwatch.Alarm(this, 'SweepsIncomplete', {
        alarmDescription: `sweeps were judged at their drain deadline without every tenant in ${INCOMPLETE_SWEEP_INTERVALS} intervals running (canary.sweep_complete names the missing tenants): sweeps do not drain, or tenants end in the dead-letter queue.`,
        metric: this.canaryMetric(METRIC.sweepsIncomplete),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: INCOMPLETE_SWEEP_INTERVALS,
        datapointsToAlarm: INCOMPLETE_SWEEP_INTERVALS,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      props.alarmTier,
    );
  }

  /** Alerts that did not reach their subscriber: SNS's own count per topic, and what was parked. */
  private watchAlertDelivery(): void {
    for (const tier of TIERS) {
      this.atLeast(
        `NotificationsFailed${tier}`,
        `SNS could not deliver ${tier} alerts to a subscription (email, HTTPS or the PagerDuty forwarder): the on-call may not have been told. See the delivery dead-letter queue.`,
        this.props.topics[tier].metric('NumberOfNotificationsFailed', { period: this.interval, statistic: 'Sum' }),
        1,
        'P1',
      );
    }
    for (const [name, queue] of this.props.deliveryDeadLetters ?? []) {
      this.atLeast(
        `${name}DeadLetters`,
        `alerts were parked in the ${name} dead-letter queue: they were never delivered. Read the messages, fix the subscription (or the PagerDuty routing key), then redrive.`,
        this.queueDepth(queue),
        1,
        'P1',
      );
    }
  }

  /** The dashboard's top: the alarms, what is failing, how fast round trips are and what was sent. */
  private resultRows(): cloudwatch.IWidget[][] {
    /** Each check's results with `status`, stacked. */
    const byCheck = (title: string, status: string) =>
      new cloudwatch.GraphWidget({
        title,
        left: CATALOG.map((entry) =>
          this.canaryMetric(METRIC.checkResults, { [DIMENSION.check]: entry.id, [DIMENSION.status]: status }).with({
            label: entry.id,
          }),
        ),
        stacked: true,
        width: HALF_WIDTH,
        legendPosition: cloudwatch.LegendPosition.RIGHT,
      });
    return [
      [
        new cloudwatch.AlarmStatusWidget({
          title: 'Canary alarms',
          alarms: this.alarms,
          width: 24,
          height: 3,
        }),
      ],
      [
        byCheck('Failing checks by check (results with status fail)', 'fail'),
        byCheck('Checks the canary could not decide (status error)', 'error'),
      ],
      [
        new cloudwatch.GraphWidget({
          title: 'Enhancement round trip (seconds)',
          left: [
            this.canaryMetric(METRIC.roundTripLatency, {}, 'p50').with({ label: 'p50' }),
            this.canaryMetric(METRIC.roundTripLatency, {}, 'p95').with({ label: 'p95' }),
          ],
          width: HALF_WIDTH,
        }),
        new cloudwatch.GraphWidget({
          title: 'Alerts sent by tier',
          left: TIERS.map((t) => this.canaryMetric(METRIC.alertsSent, { [DIMENSION.tier]: t }).with({ label: t })),
          stacked: true,
          width: HALF_WIDTH,
        }),
      ],
    ];
  }

  /** The dashboard's bottom: whether the canary itself is well (sweeps, queues, tenants failing now, functions). */
  private canaryRows(): cloudwatch.IWidget[][] {
    const { props, interval, functions } = this;
    return [
      [
        new cloudwatch.GraphWidget({
          title: 'Sweep duration (ms) and heartbeat',
          left: [
            this.canaryMetric(METRIC.sweepDuration, {}, 'Average').with({ label: 'average' }),
            this.canaryMetric(METRIC.sweepDuration, {}, 'Maximum').with({ label: 'max' }),
          ],
          right: [this.canaryMetric(METRIC.heartbeat).with({ label: 'heartbeats' })],
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: 'Tenants queued per sweep',
          left: [
            this.canaryMetric(METRIC.tenantsEnqueued).with({ label: 'queued' }),
            this.canaryMetric(METRIC.tenantsNotEnqueued).with({ label: 'not queued' }),
          ],
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: 'Probe queue',
          left: [props.queue.metricApproximateAgeOfOldestMessage({ period: interval }).with({ label: 'oldest (s)' })],
          right: [this.queueDepth(props.deadLetterQueue).with({ label: 'dead letters' })],
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
          left: (props.deliveryDeadLetters ?? []).map(([name, queue]) => this.queueDepth(queue).with({ label: name })),
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
          width: HALF_WIDTH,
        }),
        new cloudwatch.GraphWidget({
          title: 'Function duration p95 (ms)',
          left: functions.map(([name, fn]) =>
            fn.metricDuration({ period: interval, statistic: 'p95' }).with({ label: name }),
          ),
          width: HALF_WIDTH,
        }),
      ],
    ];
  }
}
