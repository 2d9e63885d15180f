/**
 * The monthly bill of a synthesised stack: every billed resource of the template, priced, with
 * usage from measured figures (one real probe invocation, the sweep, the log bytes) and the
 * config (tenants, interval, secrets). Pure: template, config facts, usage and prices in, line
 * items with their arithmetic out. Resources a template may hold that are never billed (roles,
 * policies, queue and topic policies, permissions, the Function URL, metadata) are listed as free
 * so that nothing in the template goes unaccounted for.
 */
import type { CostInputs } from './cost.ts';
import type { TemplateResource } from './template.ts';

/** List prices, USD (us-east-1, arm64, December 2026; bench/README.md states the date). */
export const BILL_PRICES = {
  lambdaGbSecondArm: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  sqsPerMillionRequests: 0.4,
  snsPerMillionPublishes: 0.5,
  snsPerEmail: 2 / 100_000,
  snsPerMillionHttps: 0.6,
  dynamoPerMillionWrites: 0.625,
  dynamoPerMillionReads: 0.125,
  dynamoStoragePerGbMonth: 0.25,
  dynamoPitrPerGbMonth: 0.2,
  secretsPerSecretMonth: 0.4,
  secretsPer10kCalls: 0.05,
  kmsPerKeyMonth: 1,
  kmsPer10kRequests: 0.03,
  cloudwatchPerAlarmMetricMonth: 0.1,
  cloudwatchPerDashboardMonth: 3,
  cloudwatchPerMetricMonth: 0.3,
  cloudwatchLogsPerGbIngested: 0.5,
  cloudwatchLogsPerGbMonthStored: 0.03,
  schedulerPerMillionInvocations: 1,
  vpcEndpointPerAzHour: 0.01,
  vpcEndpointPerGb: 0.01,
  natGatewayPerHour: 0.045,
  natGatewayPerGb: 0.045,
} as const;

export type BillPrices = { -readonly [K in keyof typeof BILL_PRICES]: number };

/** What the config says that the template does not. */
export interface ConfigFacts {
  tenants: number;
  /** Secrets Manager secrets the stack's functions read (distinct ids), tenants' own left out. */
  sharedSecrets: number;
  /** Static tenants' own signing secrets (read per tenant, once a sweep). */
  tenantSecrets: number;
  /** Secrets the sweep reads once a sweep (database, Redis, tenant source). */
  sweepSecrets: number;
  /** Secrets each probe container reads (database login, tenant source and its key). */
  probeSecrets: number;
  /** `deployment.vpc.egress`, or undefined outside a VPC. */
  egress: 'nat' | 'endpoints' | undefined;
  /** Availability zones the functions' subnets span (one per subnet: an upper bound). */
  azs: number;
}

/**
 * Measured figures (bench/README.md says how each was measured); the alert-state and ledger
 * units and the state changes mean what they mean in bench/cost.ts.
 */
export interface BillUsage
  extends Pick<
    CostInputs,
    | 'stateKeysPerTenantRun'
    | 'stateKeysPerSweep'
    | 'ledgerWritesPerInvocation'
    | 'ledgerReadsPerInvocation'
    | 'ledgerWritesPerSweep'
    | 'ledgerReadsPerSweep'
    | 'stateChangesPerTenantMonth'
  > {
  /** Billed seconds of one probe invocation of `batchSize` tenants (the bundled handler, measured). */
  probeInvocationS: number;
  /** INIT seconds of a probe container (bundle import, measured), billed per cold start. */
  probeInitS: number;
  /** Billed seconds of one sweep (platform checks, tenant list, SQS sends). */
  sweepS: number;
  sweepInitS: number;
  /** Log bytes Lambda ingests per probe invocation (its lines, EMF, START/END/REPORT) and per sweep. */
  logBytesPerProbeInvocation: number;
  logBytesPerSweep: number;
  /** Custom metrics kept alive (per check and status, never per tenant). */
  customMetrics: number;
  /** Seconds the PagerDuty forwarder is billed per alert it forwards. */
  forwarderSecondsPerAlert: number;
  /** How long a container reuses a secret (functions/adapters/secrets.ts). */
  secretCacheSeconds: number;
  /** Bytes over the network per tenant run to AWS APIs and the platform (NAT or endpoint data). */
  networkBytesPerTenantRun: number;
  /** Bytes the tables hold (state, ledger with a day's TTL). */
  tableBytes: number;
  /**
   * Probe containers a sweep uses (sim/drain.ts: the event source's peak concurrency over the
   * sweep); at most the mapping's maximum. @default the mapping's maximum concurrency
   */
  probeContainers?: number;
}

export interface BillLine {
  item: string;
  /** The template resources it prices (logical ids), or the config field. */
  resources: string[];
  usd: number;
  arithmetic: string;
}

export interface Bill {
  tenants: number;
  sweepsPerMonth: number;
  invocationsPerMonth: number;
  lines: BillLine[];
  totalUsd: number;
  /** Getting out of the VPC, apart from the total: the endpoints the template creates, or the platform's NAT. */
  egress: BillLine[];
  /** Template resource types nobody is billed for, with their count. */
  free: Record<string, number>;
  /** Resource types the bill does not know: a new resource must be priced before it ships. */
  unpriced: string[];
}

const FREE_TYPES = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::SQS::QueuePolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::Lambda::Permission',
  'AWS::Lambda::Url',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::KMS::Alias',
  'AWS::CDK::Metadata',
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::SecurityGroupEgress',
]);

const fmt = (value: number): string =>
  value >= 1000 ? Math.round(value).toLocaleString('en-US') : Number(value.toPrecision(4)).toString();

/** Minutes between runs of a `rate(N minutes)` / `rate(1 hour)` schedule expression. */
export function rateMinutes(expression: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours)\)$/.exec(expression);
  if (!match) throw new Error(`cannot price schedule ${expression}: only rate() expressions are priced`);
  return Number(match[1]) * (match[2]!.startsWith('hour') ? 60 : 1);
}

/** Standard-resolution alarm metrics of an alarm: one, or each metric a math expression reads. */
function alarmMetrics(resource: TemplateResource): number {
  const metrics = resource.Properties?.Metrics as { MetricStat?: unknown }[] | undefined;
  return metrics === undefined ? 1 : Math.max(1, metrics.filter((m) => m.MetricStat !== undefined).length);
}

export function priceTemplate(
  resources: Record<string, TemplateResource>,
  facts: ConfigFacts,
  usage: BillUsage,
  prices: BillPrices = BILL_PRICES,
): Bill {
  const byType = new Map<string, [string, TemplateResource][]>();
  for (const entry of Object.entries(resources)) {
    byType.set(entry[1].Type, [...(byType.get(entry[1].Type) ?? []), entry]);
  }
  const ids = (type: string) => (byType.get(type) ?? []).map(([id]) => id);
  const of = (type: string) => byType.get(type) ?? [];
  const priced = new Set<string>();
  const lines: BillLine[] = [];
  const add = (item: string, type: string | string[], usd: number, arithmetic: string, list?: string[]) => {
    for (const t of Array.isArray(type) ? type : [type]) priced.add(t);
    lines.push({ item, resources: list ?? (Array.isArray(type) ? type.flatMap(ids) : ids(type)), usd, arithmetic });
  };

  const hours = 730;
  const schedules = of('AWS::Scheduler::Schedule');
  if (schedules.length !== 1) throw new Error(`expected one schedule in the template, found ${schedules.length}`);
  const [scheduleId, schedule] = schedules[0]!;
  const interval = rateMinutes(String(schedule.Properties?.ScheduleExpression));
  const sweeps = (hours * 60) / interval;
  const tenantRuns = facts.tenants * sweeps;
  add(
    'EventBridge Scheduler',
    'AWS::Scheduler::Schedule',
    (sweeps / 1e6) * prices.schedulerPerMillionInvocations,
    `${fmt(sweeps)} invocations (${scheduleId}: every ${interval} min) × $${prices.schedulerPerMillionInvocations}/M`,
  );

  // Functions: the probe (its event source's batch size), the sweep, the forwarder.
  const functions = of('AWS::Lambda::Function');
  const mapping = of('AWS::Lambda::EventSourceMapping')[0]?.[1].Properties ?? {};
  const batchSize = Number(mapping.BatchSize ?? 10);
  const maxConcurrency = Number(
    (mapping.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 1000,
  );
  const invocationsPerSweep = Math.ceil(facts.tenants / batchSize);
  const invocations = invocationsPerSweep * sweeps;
  const containers = Math.min(maxConcurrency, invocationsPerSweep, usage.probeContainers ?? maxConcurrency);
  const alertsPerMonth = facts.tenants * usage.stateChangesPerTenantMonth;
  let requests = 0;
  for (const [id, fn] of functions) {
    const memoryMb = Number(fn.Properties?.MemorySize ?? 128);
    const arch = (fn.Properties?.Architectures as string[] | undefined)?.[0] ?? 'x86_64';
    if (arch !== 'arm64') throw new Error(`${id} is ${arch}: the bill prices arm64 only`);
    const gb = memoryMb / 1024;
    if (id.startsWith('Probe')) {
      const runGbS = invocations * usage.probeInvocationS * gb;
      const coldGbS = containers * sweeps * usage.probeInitS * gb;
      requests += invocations;
      lines.push({
        item: 'Lambda probe compute (invocations + INIT)',
        resources: [id],
        usd: (runGbS + coldGbS) * prices.lambdaGbSecondArm,
        arithmetic: `${fmt(invocations)} invocations of ${batchSize} tenants × ${fmt(usage.probeInvocationS)} s × ${fmt(gb)} GB = ${fmt(runGbS)} GB-s, + ${fmt(containers)} containers cold once a sweep (worst case) × ${fmt(sweeps)} × ${fmt(usage.probeInitS)} s INIT × ${fmt(gb)} GB = ${fmt(coldGbS)} GB-s; × $${prices.lambdaGbSecondArm}`,
      });
    } else if (id.startsWith('Sweep')) {
      const gbS = sweeps * (usage.sweepS + usage.sweepInitS) * gb;
      requests += sweeps;
      lines.push({
        item: 'Lambda sweep compute',
        resources: [id],
        usd: gbS * prices.lambdaGbSecondArm,
        arithmetic: `${fmt(sweeps)} sweeps × (${fmt(usage.sweepS)} s + ${fmt(usage.sweepInitS)} s INIT, cold every sweep) × ${fmt(gb)} GB = ${fmt(gbS)} GB-s × $${prices.lambdaGbSecondArm}`,
      });
    } else if (id.startsWith('PagerDuty')) {
      const share = pagerDutyShare(resources);
      const forwarded = alertsPerMonth * share;
      const gbS = forwarded * usage.forwarderSecondsPerAlert * gb;
      requests += forwarded;
      lines.push({
        item: 'Lambda PagerDuty forwarder',
        resources: [id],
        usd: gbS * prices.lambdaGbSecondArm,
        arithmetic: `${fmt(forwarded)} alerts (${fmt(share * 100)} % of ${fmt(alertsPerMonth)}: the tiers it is subscribed to) × ${fmt(usage.forwarderSecondsPerAlert)} s × ${fmt(gb)} GB = ${fmt(gbS)} GB-s`,
      });
    } else {
      throw new Error(`function ${id} is in the template but the bill does not know what it runs`);
    }
  }
  priced.add('AWS::Lambda::Function');
  add(
    'Lambda requests',
    [],
    (requests / 1e6) * prices.lambdaPerMillionRequests,
    `${fmt(requests)} invocations × $${prices.lambdaPerMillionRequests}/M`,
    ids('AWS::Lambda::Function'),
  );

  // SQS: sends, receives and deletes of the probe queue, and the event source's idle long polls.
  const queues = ids('AWS::SQS::Queue');
  const sends = Math.ceil(facts.tenants / 10) * sweeps;
  const pollers = Math.min(5, containers); // the event source keeps 5 pollers, more only while busy
  const idlePolls = pollers * ((hours * 3600) / 20);
  const sqsRequests = sends + 2 * invocations + idlePolls;
  add(
    'SQS requests',
    ['AWS::SQS::Queue', 'AWS::Lambda::EventSourceMapping'],
    (sqsRequests / 1e6) * prices.sqsPerMillionRequests,
    `${fmt(sends)} SendMessageBatch + 2 × ${fmt(invocations)} receive/delete + ${pollers} pollers × ${fmt((hours * 3600) / 20)} idle 20 s long polls = ${fmt(sqsRequests)} × $${prices.sqsPerMillionRequests}/M (${queues.length} queues; dead-letter queues are only written on failure)`,
  );

  // SNS: a publish per alert, a delivery per subscription of its tier.
  const subscriptions = of('AWS::SNS::Subscription');
  const emails = subscriptions.filter(([, s]) => s.Properties?.Protocol === 'email').length;
  const https = subscriptions.filter(([, s]) => s.Properties?.Protocol === 'https').length;
  const tierTopics = Math.max(1, of('AWS::SNS::Topic').filter(([id]) => id.startsWith('Alerts')).length);
  // Each alert goes to one tier; each tier's share of the subscriptions receives it.
  const emailDeliveries = (alertsPerMonth * emails) / tierTopics;
  const httpsDeliveries = (alertsPerMonth * https) / tierTopics;
  add(
    'SNS publishes and deliveries',
    ['AWS::SNS::Topic', 'AWS::SNS::Subscription'],
    (alertsPerMonth / 1e6) * prices.snsPerMillionPublishes +
      emailDeliveries * prices.snsPerEmail +
      (httpsDeliveries / 1e6) * prices.snsPerMillionHttps,
    `${fmt(alertsPerMonth)} alerts (${usage.stateChangesPerTenantMonth} state changes per tenant a month) × $${prices.snsPerMillionPublishes}/M + ${fmt(emailDeliveries)} emails (${emails} email subscriptions over ${tierTopics} tiers) × $${prices.snsPerEmail} + ${fmt(httpsDeliveries)} HTTPS × $${prices.snsPerMillionHttps}/M; Lambda deliveries are free`,
  );

  // KMS: the topics' key; SNS asks it for a data key per publish (cached by SNS for up to 5 min).
  const keys = ids('AWS::KMS::Key');
  const kmsRequests = alertsPerMonth + sweeps; // upper bound: a data key per publish, plus the alarms' publishes
  add(
    'KMS keys and requests',
    'AWS::KMS::Key',
    keys.length * prices.kmsPerKeyMonth + (kmsRequests / 10_000) * prices.kmsPer10kRequests,
    `${keys.length} customer-managed key × $${prices.kmsPerKeyMonth} + ${fmt(kmsRequests)} requests (at most one per publish) × $${prices.kmsPer10kRequests}/10k`,
  );

  // DynamoDB: on-demand request units; storage and point-in-time recovery by bytes held.
  const tables = of('AWS::DynamoDB::Table');
  for (const [, table] of tables) {
    if (table.Properties?.BillingMode !== 'PAY_PER_REQUEST') throw new Error('the bill prices on-demand tables only');
  }
  const stateReads = tenantRuns * usage.stateKeysPerTenantRun + sweeps * usage.stateKeysPerSweep;
  const ledgerWrites = invocations * usage.ledgerWritesPerInvocation + sweeps * usage.ledgerWritesPerSweep;
  const ledgerReads = invocations * usage.ledgerReadsPerInvocation + sweeps * usage.ledgerReadsPerSweep;
  const writes = alertsPerMonth + ledgerWrites;
  const reads = stateReads + ledgerReads;
  const pitr = tables.filter(
    ([, t]) =>
      (t.Properties?.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: boolean } | undefined)
        ?.PointInTimeRecoveryEnabled === true,
  ).length;
  const gb = usage.tableBytes / 1e9;
  add(
    'DynamoDB (alert state, sweep ledger)',
    'AWS::DynamoDB::Table',
    (writes / 1e6) * prices.dynamoPerMillionWrites +
      (reads / 1e6) * prices.dynamoPerMillionReads +
      gb * prices.dynamoStoragePerGbMonth +
      // PITR on the share of the bytes its tables hold (tables are assumed alike in size).
      (gb * prices.dynamoPitrPerGbMonth * pitr) / Math.max(1, tables.length),
    `(${fmt(alertsPerMonth)} state + ${fmt(ledgerWrites)} ledger) write units × $${prices.dynamoPerMillionWrites}/M + (${fmt(stateReads)} state + ${fmt(ledgerReads)} ledger) read units × $${prices.dynamoPerMillionReads}/M + ${fmt(gb)} GB × ($${prices.dynamoStoragePerGbMonth} + $${prices.dynamoPitrPerGbMonth} PITR on ${pitr} of ${tables.length})`,
  );

  // Secrets Manager: the secrets the config names (not template resources: the platform's).
  const period = Math.max(usage.secretCacheSeconds, interval * 60);
  const readsPerContainer = (hours * 3600) / period;
  const secretCalls =
    facts.probeSecrets * containers * readsPerContainer + facts.sweepSecrets * sweeps + facts.tenantSecrets * sweeps;
  const secrets = facts.sharedSecrets + facts.tenantSecrets;
  lines.push({
    item: 'Secrets Manager',
    resources: ['config: secretId references'],
    usd: secrets * prices.secretsPerSecretMonth + (secretCalls / 10_000) * prices.secretsPer10kCalls,
    arithmetic: `${secrets} secrets (${facts.sharedSecrets} shared + ${facts.tenantSecrets} tenants' own) × $${prices.secretsPerSecretMonth} + (${facts.probeSecrets} × ${fmt(containers)} probe containers × a read per ${period} s + ${facts.sweepSecrets} × ${fmt(sweeps)} sweeps + ${facts.tenantSecrets} tenant secrets × ${fmt(sweeps)} sweeps) = ${fmt(secretCalls)} calls × $${prices.secretsPer10kCalls}/10k`,
  });

  const alarms = of('AWS::CloudWatch::Alarm');
  const alarmMetricCount = alarms.reduce((sum, [, alarm]) => sum + alarmMetrics(alarm), 0);
  add(
    'CloudWatch alarms',
    'AWS::CloudWatch::Alarm',
    alarmMetricCount * prices.cloudwatchPerAlarmMetricMonth,
    `${alarms.length} alarms, ${alarmMetricCount} standard-resolution alarm metrics × $${prices.cloudwatchPerAlarmMetricMonth}`,
  );
  const dashboards = ids('AWS::CloudWatch::Dashboard');
  add(
    'CloudWatch dashboard',
    'AWS::CloudWatch::Dashboard',
    dashboards.length * prices.cloudwatchPerDashboardMonth,
    `${dashboards.length} × $${prices.cloudwatchPerDashboardMonth} (the account's first three are free; not counted)`,
  );
  lines.push({
    item: 'CloudWatch custom metrics (EMF)',
    resources: ['functions/core/telemetry.ts'],
    usd: usage.customMetrics * prices.cloudwatchPerMetricMonth,
    arithmetic: `${usage.customMetrics} metrics (per check and status, never per tenant) × $${prices.cloudwatchPerMetricMonth}`,
  });
  const logGroups = of('AWS::Logs::LogGroup');
  const logGb = (invocations * usage.logBytesPerProbeInvocation + sweeps * usage.logBytesPerSweep) / 1e9;
  const retentionDays = Math.max(...logGroups.map(([, g]) => Number(g.Properties?.RetentionInDays ?? 30)), 0);
  const storedGb = logGb * (retentionDays / 30);
  add(
    'CloudWatch Logs (lines and EMF)',
    'AWS::Logs::LogGroup',
    logGb * prices.cloudwatchLogsPerGbIngested + storedGb * prices.cloudwatchLogsPerGbMonthStored,
    `(${fmt(invocations)} invocations × ${fmt(usage.logBytesPerProbeInvocation)} B + ${fmt(sweeps)} sweeps × ${fmt(usage.logBytesPerSweep)} B) = ${fmt(logGb)} GB ingested × $${prices.cloudwatchLogsPerGbIngested} + ${fmt(storedGb)} GB held (${retentionDays} days) × $${prices.cloudwatchLogsPerGbMonthStored}`,
  );

  // Getting out of the VPC: apart from the total, the user reads it against their own network.
  const egress: BillLine[] = [];
  const networkGb = (tenantRuns * usage.networkBytesPerTenantRun) / 1e9;
  const endpoints = of('AWS::EC2::VPCEndpoint');
  const interfaces = endpoints.filter(([, e]) => e.Properties?.VpcEndpointType === 'Interface');
  priced.add('AWS::EC2::VPCEndpoint');
  if (interfaces.length > 0) {
    const azHours = interfaces.reduce(
      (sum, [, e]) => sum + ((e.Properties?.SubnetIds as unknown[] | undefined)?.length ?? facts.azs) * hours,
      0,
    );
    egress.push({
      item: 'VPC interface endpoints (in the template)',
      resources: interfaces.map(([id]) => id),
      usd: azHours * prices.vpcEndpointPerAzHour + networkGb * prices.vpcEndpointPerGb,
      arithmetic: `${interfaces.length} interface endpoints × their subnets = ${fmt(azHours)} AZ-hours × $${prices.vpcEndpointPerAzHour} + ${fmt(networkGb)} GB × $${prices.vpcEndpointPerGb} (gateway endpoints are free)`,
    });
  }
  if (facts.egress !== undefined) {
    egress.push({
      item: "NAT gateway data (the platform's NAT)",
      resources: ['config: deployment.vpc'],
      usd: networkGb * prices.natGatewayPerGb,
      arithmetic: `${fmt(networkGb)} GB (${fmt(usage.networkBytesPerTenantRun)} B a tenant run) × $${prices.natGatewayPerGb}; a NAT gateway of the canary's own would add ${facts.azs} × ${hours} h × $${prices.natGatewayPerHour} = $${(facts.azs * hours * prices.natGatewayPerHour).toFixed(2)}`,
    });
  }

  const free: Record<string, number> = {};
  const unpriced: string[] = [];
  for (const [type, list] of byType) {
    if (priced.has(type)) continue;
    if (FREE_TYPES.has(type)) free[type] = list.length;
    else unpriced.push(type);
  }
  return {
    tenants: facts.tenants,
    sweepsPerMonth: sweeps,
    invocationsPerMonth: invocations,
    lines,
    totalUsd: lines.reduce((sum, line) => sum + line.usd, 0),
    egress,
    free,
    unpriced,
  };
}

/** The share of alerts the forwarder sees: the alert tiers whose topic it is subscribed to. */
function pagerDutyShare(resources: Record<string, TemplateResource>): number {
  const tiers = Object.entries(resources).filter(
    ([id, r]) => r.Type === 'AWS::SNS::Topic' && id.startsWith('Alerts'),
  ).length;
  const forwarded = Object.values(resources).filter(
    (r) => r.Type === 'AWS::SNS::Subscription' && r.Properties?.Protocol === 'lambda',
  ).length;
  return tiers > 0 ? Math.min(1, forwarded / tiers) : 0;
}

/** The bill as Markdown rows: every line, the total, then the egress lines apart. */
export function billTable(bill: Bill): string {
  const usd = (value: number) => `$${value.toFixed(2)}`;
  const rows = bill.lines.map((line) => `| ${line.item} | ${usd(line.usd)} | ${line.arithmetic} |`);
  const egress = bill.egress.map((line) => `| _${line.item}_ | _${usd(line.usd)}_ | ${line.arithmetic} |`);
  return [
    '| item | USD/month | arithmetic |',
    '| --- | ---: | --- |',
    ...rows,
    `| **total** | **${usd(bill.totalUsd)}** | |`,
    ...(egress.length > 0 ? ['| _apart: out of the VPC_ | | |', ...egress] : []),
  ].join('\n');
}
