/**
 * The monthly bill of a synthesised stack: every billed resource of the template, priced, with
 * usage from measured figures (one real probe invocation, the sweep, the log bytes) and the
 * config (tenants, interval, secrets). Pure: template, config facts, usage and prices in, line
 * items with their arithmetic out. Resources a template may hold that are never billed (roles,
 * policies, queue and topic policies, permissions, the Function URL, metadata) are listed as free
 * so that nothing in the template goes unaccounted for.
 */
import type { CostInputs } from './cost.ts';
import { type BillPrices, PRICE_DATE, pricesFor, US_EAST_1 } from './prices.ts';
import type { TemplateResource } from './template.ts';

/** us-east-1's list prices (bench/prices.ts has every region's, and their date). */
export const BILL_PRICES: BillPrices = US_EAST_1;
export type { BillPrices } from './prices.ts';

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
  /** `deployment.env.region`: the prices used (bench/prices.ts). Unset: priced as us-east-1, saying so. */
  region?: string | undefined;
  /** `costs.syntheticJobUsd`: what one synthetic job costs the platform (its LLM run). @default 0.001 */
  syntheticJobUsd?: number;
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
  /**
   * Billed seconds of an invocation of one tenant (measured: a batch of one). A partial batch is
   * billed between the two, by its tenants. @default probeInvocationS (a partial batch billed as full)
   */
  probeTenantInvocationS?: number;
  /**
   * Probe invocations a sweep takes (sim/drain.ts with the sweep's pacing: tenants spread over the
   * interval arrive a few at a time, so most batches are partial). @default tenants / batch size, rounded up
   */
  probeInvocationsPerSweep?: number;
  /** Synthetic jobs (accepted tickets) a tenant causes a day (sampling). @default one a sweep */
  syntheticJobsPerTenantDay?: number;
  /** INIT seconds of a probe container (bundle import, measured), billed per cold start. */
  probeInitS: number;
  /** Billed seconds of one sweep (platform checks, tenant list, SQS sends). */
  sweepS: number;
  sweepInitS: number;
  /** Log bytes Lambda ingests per probe invocation of `batchSize` tenants (its lines, EMF, START/END/REPORT) and per sweep. */
  logBytesPerProbeInvocation: number;
  /**
   * Of those, the bytes each tenant adds (its `tenant probed` line): a partial batch logs fewer.
   * @default 0 (every invocation logs as a full batch)
   */
  logBytesPerTenantRun?: number;
  logBytesPerSweep: number;
  /** Custom metrics kept alive in a healthy month (per check and status seen, never per tenant). */
  customMetrics: number;
  /** Custom metrics when every check is seen in every status in the month (the range's top). @default customMetrics */
  customMetricsEveryStatus?: number;
  /** Seconds the PagerDuty forwarder is billed per alert it forwards. */
  forwarderSecondsPerAlert: number;
  /** How long a container reuses a secret (functions/adapters/secrets.ts). */
  secretCacheSeconds: number;
  /** Bytes through the platform's NAT (both directions, TLS included), measured: {@link NatBytes}. */
  natBytes: NatBytes;
  /** Bytes the tables hold (state, ledger with a day's TTL). */
  tableBytes: number;
  /**
   * Probe containers a sweep uses (sim/drain.ts: the event source's peak concurrency over the
   * sweep); at most the mapping's maximum. @default the mapping's maximum concurrency
   */
  probeContainers?: number;
}

/**
 * Bytes the probe sends and receives through the NAT (both directions, as a NAT gateway bills its
 * data), measured in the bench's real invocation (bench/invocation-child.ts: the platform's API
 * over TLS and the DynamoDB calls, each through a byte-counting loopback proxy). An invocation of
 * k tenants moves `perInvocation + k × perTenantRun` bytes; a container's first invocation adds
 * `perColdStart` (its handshakes have no session to resume).
 */
export interface NatBytes {
  perInvocation: number;
  perTenantRun: number;
  perColdStart: number;
  /** What was measured, for the arithmetic line (e.g. "warm batch of 10: 290,000 B, of one: 32,000 B"). */
  measured: string;
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
  /** The config's deploy region, the one priced (an unknown one is priced as us-east-1), and the price date. */
  region: string | undefined;
  pricedAs: string;
  priceDate: string;
  /** Set when the region is not in the price table. */
  priceNote?: string;
  sweepsPerMonth: number;
  invocationsPerMonth: number;
  /** Every AWS line, getting out of the VPC included (NAT data, interface endpoints). */
  lines: BillLine[];
  /** The AWS total, with custom metrics of a healthy month. */
  totalUsd: number;
  /** The AWS total's range: custom metrics of a healthy month, and with every check seen in every status. */
  totalUsdRange: [number, number];
  /** The lines of {@link lines} that get out of the VPC (the endpoints the template creates, the platform's NAT data). */
  egress: BillLine[];
  /** True when the NAT data is in the total (a VPC with `egress: nat`). */
  natIncluded: boolean;
  /** What the canary costs the platform, apart from the AWS total: its synthetic jobs (LLM runs). */
  syntheticJobs: BillLine & { perMonth: number };
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

/** What every part of the bill shares: the template by type, the usage, the prices, the lines so far. */
interface Pricing {
  resources: Record<string, TemplateResource>;
  facts: ConfigFacts;
  usage: BillUsage;
  prices: BillPrices;
  hours: number;
  intervalMinutes: number;
  sweeps: number;
  tenantRuns: number;
  batchSize: number;
  invocationsPerSweep: number;
  invocations: number;
  containers: number;
  alertsPerMonth: number;
  ids(type: string): string[];
  of(type: string): [string, TemplateResource][];
  /** Adds a line, the types it prices marked priced. */
  add(item: string, type: string | string[], usd: number, arithmetic: string, list?: string[]): BillLine;
  push(line: BillLine): BillLine;
}

export function priceTemplate(
  resources: Record<string, TemplateResource>,
  facts: ConfigFacts,
  usage: BillUsage,
  prices?: BillPrices,
): Bill {
  const regional = pricesFor(facts.region);
  const p = pricingOf(resources, facts, usage, prices ?? regional.prices);
  const lines: BillLine[] = [];
  const priced = new Set<string>();
  p.add = (item, type, usd, arithmetic, list) => {
    for (const t of Array.isArray(type) ? type : [type]) priced.add(t);
    return p.push({
      item,
      resources: list ?? (Array.isArray(type) ? type.flatMap(p.ids) : p.ids(type)),
      usd,
      arithmetic,
    });
  };
  p.push = (line) => {
    lines.push(line);
    return line;
  };
  priceSchedule(p);
  priceFunctions(p);
  priced.add('AWS::Lambda::Function');
  priceQueuesAndTopics(p);
  priceTables(p);
  priceSecrets(p);
  const metrics = priceCloudWatch(p);
  const egress = priceEgress(p);
  priced.add('AWS::EC2::VPCEndpoint');

  const free: Record<string, number> = {};
  const unpriced: string[] = [];
  for (const [type, list] of byTypeOf(resources)) {
    if (priced.has(type)) continue;
    if (FREE_TYPES.has(type)) free[type] = list.length;
    else unpriced.push(type);
  }
  const totalUsd = lines.reduce((sum, line) => sum + line.usd, 0);
  return {
    tenants: facts.tenants,
    region: facts.region,
    pricedAs: prices === undefined ? regional.pricedAs : 'given prices',
    priceDate: PRICE_DATE,
    ...(prices === undefined && regional.note !== undefined ? { priceNote: regional.note } : {}),
    sweepsPerMonth: p.sweeps,
    invocationsPerMonth: p.invocations,
    lines,
    totalUsd,
    totalUsdRange: [totalUsd, totalUsd - metrics.healthyUsd + metrics.everyStatusUsd],
    egress,
    natIncluded: egress.some((line) => line.item.startsWith('NAT gateway data')),
    syntheticJobs: syntheticJobsLine(p),
    free,
    unpriced,
  };
}

function byTypeOf(resources: Record<string, TemplateResource>): Map<string, [string, TemplateResource][]> {
  const byType = new Map<string, [string, TemplateResource][]>();
  for (const entry of Object.entries(resources)) {
    byType.set(entry[1].Type, [...(byType.get(entry[1].Type) ?? []), entry]);
  }
  return byType;
}

/** The shared figures: the schedule's sweeps, the probe's invocations (partial batches counted), its containers. */
function pricingOf(
  resources: Record<string, TemplateResource>,
  facts: ConfigFacts,
  usage: BillUsage,
  prices: BillPrices,
): Pricing {
  const byType = byTypeOf(resources);
  const of = (type: string) => byType.get(type) ?? [];
  const ids = (type: string) => of(type).map(([id]) => id);
  const hours = 730;
  const schedules = of('AWS::Scheduler::Schedule');
  if (schedules.length !== 1) throw new Error(`expected one schedule in the template, found ${schedules.length}`);
  const intervalMinutes = rateMinutes(String(schedules[0]![1].Properties?.ScheduleExpression));
  const sweeps = (hours * 60) / intervalMinutes;
  const mapping = of('AWS::Lambda::EventSourceMapping')[0]?.[1].Properties ?? {};
  const batchSize = Number(mapping.BatchSize ?? 10);
  const maxConcurrency = Number(
    (mapping.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 1000,
  );
  const fullBatches = Math.ceil(facts.tenants / batchSize);
  // Paced tenants arrive a few at a time: more, partial, batches (never fewer than full ones, nor more than tenants).
  const invocationsPerSweep = Math.min(
    Math.max(1, facts.tenants),
    Math.max(fullBatches, Math.ceil(usage.probeInvocationsPerSweep ?? fullBatches)),
  );
  return {
    resources,
    facts,
    usage,
    prices,
    hours,
    intervalMinutes,
    sweeps,
    tenantRuns: facts.tenants * sweeps,
    batchSize,
    invocationsPerSweep,
    invocations: invocationsPerSweep * sweeps,
    containers: Math.min(maxConcurrency, invocationsPerSweep, usage.probeContainers ?? maxConcurrency),
    alertsPerMonth: facts.tenants * usage.stateChangesPerTenantMonth,
    ids,
    of,
    add: () => {
      throw new Error('set by priceTemplate');
    },
    push: () => {
      throw new Error('set by priceTemplate');
    },
  };
}

function priceSchedule(p: Pricing): void {
  const [scheduleId] = p.of('AWS::Scheduler::Schedule')[0]!;
  p.add(
    'EventBridge Scheduler',
    'AWS::Scheduler::Schedule',
    (p.sweeps / 1e6) * p.prices.schedulerPerMillionInvocations,
    `${fmt(p.sweeps)} invocations (${scheduleId}: every ${p.intervalMinutes} min) × $${p.prices.schedulerPerMillionInvocations}/M`,
  );
}

/**
 * Billed seconds of an invocation of `tenants` tenants: between a batch of one and a full batch
 * (both measured), by its tenants; a full batch's time when the batch of one is not measured.
 */
export function invocationSeconds(usage: BillUsage, tenants: number, batchSize: number): number {
  const one = usage.probeTenantInvocationS ?? usage.probeInvocationS;
  if (batchSize <= 1) return usage.probeInvocationS;
  const share = Math.min(1, Math.max(0, (tenants - 1) / (batchSize - 1)));
  return one + (usage.probeInvocationS - one) * share;
}

/** Functions: the probe (its event source's batch size), the sweep, the forwarder; and their requests. */
function priceFunctions(p: Pricing): void {
  const { usage, prices, sweeps, invocations, containers } = p;
  let requests = 0;
  for (const [id, fn] of p.of('AWS::Lambda::Function')) {
    const memoryMb = Number(fn.Properties?.MemorySize ?? 128);
    const arch = (fn.Properties?.Architectures as string[] | undefined)?.[0] ?? 'x86_64';
    if (arch !== 'arm64') throw new Error(`${id} is ${arch}: the bill prices arm64 only`);
    const gb = memoryMb / 1024;
    if (id.startsWith('Probe')) {
      const perInvocation = p.facts.tenants / p.invocationsPerSweep;
      const seconds = invocationSeconds(usage, perInvocation, p.batchSize);
      const runGbS = invocations * seconds * gb;
      const coldGbS = containers * sweeps * usage.probeInitS * gb;
      requests += invocations;
      const partial =
        perInvocation < p.batchSize
          ? ` (partial batches: ${fmt(perInvocation)} tenants an invocation on average, billed between a batch of one, ${fmt(usage.probeTenantInvocationS ?? usage.probeInvocationS)} s, and a full one, ${fmt(usage.probeInvocationS)} s)`
          : '';
      p.push({
        item: 'Lambda probe compute (invocations + INIT)',
        resources: [id],
        usd: (runGbS + coldGbS) * prices.lambdaGbSecondArm,
        arithmetic: `${fmt(invocations)} invocations of up to ${p.batchSize} tenants × ${fmt(seconds)} s${partial} × ${fmt(gb)} GB = ${fmt(runGbS)} GB-s, + ${fmt(containers)} containers cold once a sweep (worst case) × ${fmt(sweeps)} × ${fmt(usage.probeInitS)} s INIT × ${fmt(gb)} GB = ${fmt(coldGbS)} GB-s; × $${prices.lambdaGbSecondArm}`,
      });
    } else if (id.startsWith('Sweep')) {
      const gbS = sweeps * (usage.sweepS + usage.sweepInitS) * gb;
      requests += sweeps;
      p.push({
        item: 'Lambda sweep compute',
        resources: [id],
        usd: gbS * prices.lambdaGbSecondArm,
        arithmetic: `${fmt(sweeps)} sweeps × (${fmt(usage.sweepS)} s + ${fmt(usage.sweepInitS)} s INIT, cold every sweep) × ${fmt(gb)} GB = ${fmt(gbS)} GB-s × $${prices.lambdaGbSecondArm}`,
      });
    } else if (id.startsWith('PagerDuty')) {
      const share = pagerDutyShare(p.resources);
      const forwarded = p.alertsPerMonth * share;
      const gbS = forwarded * usage.forwarderSecondsPerAlert * gb;
      requests += forwarded;
      p.push({
        item: 'Lambda PagerDuty forwarder',
        resources: [id],
        usd: gbS * prices.lambdaGbSecondArm,
        arithmetic: `${fmt(forwarded)} alerts (${fmt(share * 100)} % of ${fmt(p.alertsPerMonth)}: the tiers it is subscribed to) × ${fmt(usage.forwarderSecondsPerAlert)} s × ${fmt(gb)} GB = ${fmt(gbS)} GB-s`,
      });
    } else {
      throw new Error(`function ${id} is in the template but the bill does not know what it runs`);
    }
  }
  p.add(
    'Lambda requests',
    [],
    (requests / 1e6) * prices.lambdaPerMillionRequests,
    `${fmt(requests)} invocations × $${prices.lambdaPerMillionRequests}/M`,
    p.ids('AWS::Lambda::Function'),
  );
}

/** SQS (sends, receives and deletes, idle long polls), SNS (a publish per alert, deliveries), the topics' KMS key. */
function priceQueuesAndTopics(p: Pricing): void {
  const { prices, sweeps, invocations, alertsPerMonth, hours } = p;
  const queues = p.ids('AWS::SQS::Queue');
  const sends = Math.ceil(p.facts.tenants / 10) * sweeps;
  const pollers = Math.min(5, p.containers); // the event source keeps 5 pollers, more only while busy
  const idlePolls = pollers * ((hours * 3600) / 20);
  const sqsRequests = sends + 2 * invocations + idlePolls;
  p.add(
    'SQS requests',
    ['AWS::SQS::Queue', 'AWS::Lambda::EventSourceMapping'],
    (sqsRequests / 1e6) * prices.sqsPerMillionRequests,
    `${fmt(sends)} SendMessageBatch + 2 × ${fmt(invocations)} receive/delete + ${pollers} pollers × ${fmt((hours * 3600) / 20)} idle 20 s long polls = ${fmt(sqsRequests)} × $${prices.sqsPerMillionRequests}/M (${queues.length} queues; dead-letter queues are only written on failure)`,
  );
  const subscriptions = p.of('AWS::SNS::Subscription');
  const emails = subscriptions.filter(([, s]) => s.Properties?.Protocol === 'email').length;
  const https = subscriptions.filter(([, s]) => s.Properties?.Protocol === 'https').length;
  const tierTopics = Math.max(1, p.of('AWS::SNS::Topic').filter(([id]) => id.startsWith('Alerts')).length);
  // Each alert goes to one tier; each tier's share of the subscriptions receives it.
  const emailDeliveries = (alertsPerMonth * emails) / tierTopics;
  const httpsDeliveries = (alertsPerMonth * https) / tierTopics;
  p.add(
    'SNS publishes and deliveries',
    ['AWS::SNS::Topic', 'AWS::SNS::Subscription'],
    (alertsPerMonth / 1e6) * prices.snsPerMillionPublishes +
      emailDeliveries * prices.snsPerEmail +
      (httpsDeliveries / 1e6) * prices.snsPerMillionHttps,
    `${fmt(alertsPerMonth)} alerts (${p.usage.stateChangesPerTenantMonth} state changes per tenant a month) × $${prices.snsPerMillionPublishes}/M + ${fmt(emailDeliveries)} emails (${emails} email subscriptions over ${tierTopics} tiers) × $${prices.snsPerEmail} + ${fmt(httpsDeliveries)} HTTPS × $${prices.snsPerMillionHttps}/M; Lambda deliveries are free`,
  );
  // KMS: the topics' key; SNS asks it for a data key per publish (cached by SNS for up to 5 min).
  const keys = p.ids('AWS::KMS::Key');
  const kmsRequests = alertsPerMonth + sweeps; // upper bound: a data key per publish, plus the alarms' publishes
  p.add(
    'KMS keys and requests',
    'AWS::KMS::Key',
    keys.length * prices.kmsPerKeyMonth + (kmsRequests / 10_000) * prices.kmsPer10kRequests,
    `${keys.length} customer-managed key × $${prices.kmsPerKeyMonth} + ${fmt(kmsRequests)} requests (at most one per publish) × $${prices.kmsPer10kRequests}/10k`,
  );
}

/** DynamoDB: on-demand request units; storage and point-in-time recovery by bytes held. */
function priceTables(p: Pricing): void {
  const { usage, prices, sweeps, invocations } = p;
  const tables = p.of('AWS::DynamoDB::Table');
  for (const [, table] of tables) {
    if (table.Properties?.BillingMode !== 'PAY_PER_REQUEST') throw new Error('the bill prices on-demand tables only');
  }
  const stateReads = p.tenantRuns * usage.stateKeysPerTenantRun + sweeps * usage.stateKeysPerSweep;
  const ledgerWrites = invocations * usage.ledgerWritesPerInvocation + sweeps * usage.ledgerWritesPerSweep;
  const ledgerReads = invocations * usage.ledgerReadsPerInvocation + sweeps * usage.ledgerReadsPerSweep;
  const writes = p.alertsPerMonth + ledgerWrites;
  const reads = stateReads + ledgerReads;
  const pitr = tables.filter(
    ([, t]) =>
      (t.Properties?.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: boolean } | undefined)
        ?.PointInTimeRecoveryEnabled === true,
  ).length;
  const gb = usage.tableBytes / 1e9;
  p.add(
    'DynamoDB (alert state, sweep ledger)',
    'AWS::DynamoDB::Table',
    (writes / 1e6) * prices.dynamoPerMillionWrites +
      (reads / 1e6) * prices.dynamoPerMillionReads +
      gb * prices.dynamoStoragePerGbMonth +
      // PITR on the share of the bytes its tables hold (tables are assumed alike in size).
      (gb * prices.dynamoPitrPerGbMonth * pitr) / Math.max(1, tables.length),
    `(${fmt(p.alertsPerMonth)} state + ${fmt(ledgerWrites)} ledger) write units × $${prices.dynamoPerMillionWrites}/M + (${fmt(stateReads)} state + ${fmt(ledgerReads)} ledger) read units × $${prices.dynamoPerMillionReads}/M + ${fmt(gb)} GB × ($${prices.dynamoStoragePerGbMonth} + $${prices.dynamoPitrPerGbMonth} PITR on ${pitr} of ${tables.length})`,
  );
}

/** Secrets Manager: the secrets the config names (not template resources: the platform's). */
function priceSecrets(p: Pricing): void {
  const { usage, prices, sweeps, facts, containers } = p;
  const period = Math.max(usage.secretCacheSeconds, p.intervalMinutes * 60);
  const readsPerContainer = (p.hours * 3600) / period;
  const secretCalls =
    facts.probeSecrets * containers * readsPerContainer + facts.sweepSecrets * sweeps + facts.tenantSecrets * sweeps;
  const secrets = facts.sharedSecrets + facts.tenantSecrets;
  p.push({
    item: 'Secrets Manager',
    resources: ['config: secretId references'],
    usd: secrets * prices.secretsPerSecretMonth + (secretCalls / 10_000) * prices.secretsPer10kCalls,
    arithmetic: `${secrets} secrets (${facts.sharedSecrets} shared + ${facts.tenantSecrets} tenants' own) × $${prices.secretsPerSecretMonth} + (${facts.probeSecrets} × ${fmt(containers)} probe containers × a read per ${period} s + ${facts.sweepSecrets} × ${fmt(sweeps)} sweeps + ${facts.tenantSecrets} tenant secrets × ${fmt(sweeps)} sweeps) = ${fmt(secretCalls)} calls × $${prices.secretsPer10kCalls}/10k`,
  });
}

/** CloudWatch: alarms, the dashboard, custom metrics (a range), logs. Returns the metrics' range, USD. */
function priceCloudWatch(p: Pricing): { healthyUsd: number; everyStatusUsd: number } {
  const { usage, prices, sweeps, invocations } = p;
  const alarms = p.of('AWS::CloudWatch::Alarm');
  const alarmMetricCount = alarms.reduce((sum, [, alarm]) => sum + alarmMetrics(alarm), 0);
  p.add(
    'CloudWatch alarms',
    'AWS::CloudWatch::Alarm',
    alarmMetricCount * prices.cloudwatchPerAlarmMetricMonth,
    `${alarms.length} alarms, ${alarmMetricCount} standard-resolution alarm metrics × $${prices.cloudwatchPerAlarmMetricMonth}`,
  );
  const dashboards = p.ids('AWS::CloudWatch::Dashboard');
  p.add(
    'CloudWatch dashboard',
    'AWS::CloudWatch::Dashboard',
    dashboards.length * prices.cloudwatchPerDashboardMonth,
    `${dashboards.length} × $${prices.cloudwatchPerDashboardMonth} (the account's first three are free; not counted)`,
  );
  const everyStatus = Math.max(usage.customMetrics, usage.customMetricsEveryStatus ?? usage.customMetrics);
  const healthyUsd = usage.customMetrics * prices.cloudwatchPerMetricMonth;
  const everyStatusUsd = everyStatus * prices.cloudwatchPerMetricMonth;
  p.push({
    item: 'CloudWatch custom metrics (EMF)',
    resources: ['functions/core/telemetry.ts'],
    usd: healthyUsd,
    arithmetic: `${usage.customMetrics} metrics in a healthy month (per check and status seen, never per tenant) × $${prices.cloudwatchPerMetricMonth}; up to ${everyStatus} × $${prices.cloudwatchPerMetricMonth} = $${everyStatusUsd.toFixed(2)} in a month that sees every check in every status`,
  });
  const logGroups = p.of('AWS::Logs::LogGroup');
  // Per invocation what does not depend on its tenants (EMF, Lambda's lines, the batch line), and per tenant run its line.
  const perTenant = Math.min(usage.logBytesPerTenantRun ?? 0, usage.logBytesPerProbeInvocation / p.batchSize);
  const perInvocation = usage.logBytesPerProbeInvocation - p.batchSize * perTenant;
  const logGb = (invocations * perInvocation + p.tenantRuns * perTenant + sweeps * usage.logBytesPerSweep) / 1e9;
  const retentionDays = Math.max(...logGroups.map(([, g]) => Number(g.Properties?.RetentionInDays ?? 30)), 0);
  const storedGb = logGb * (retentionDays / 30);
  p.add(
    'CloudWatch Logs (lines and EMF)',
    'AWS::Logs::LogGroup',
    logGb * prices.cloudwatchLogsPerGbIngested + storedGb * prices.cloudwatchLogsPerGbMonthStored,
    `(${fmt(invocations)} invocations × ${fmt(perInvocation)} B + ${fmt(p.tenantRuns)} tenant runs × ${fmt(perTenant)} B + ${fmt(sweeps)} sweeps × ${fmt(usage.logBytesPerSweep)} B) = ${fmt(logGb)} GB ingested × $${prices.cloudwatchLogsPerGbIngested} + ${fmt(storedGb)} GB held (${retentionDays} days) × $${prices.cloudwatchLogsPerGbMonthStored}`,
  );
  return { healthyUsd, everyStatusUsd };
}

/** Getting out of the VPC, in the total: the interface endpoints the template creates, or the data through the platform's NAT. */
function priceEgress(p: Pricing): BillLine[] {
  const { usage, prices, facts, hours } = p;
  const egress: BillLine[] = [];
  const nat = usage.natBytes;
  const coldStarts = p.containers * p.sweeps;
  const natBytes = p.invocations * nat.perInvocation + p.tenantRuns * nat.perTenantRun + coldStarts * nat.perColdStart;
  const natGb = natBytes / 1e9;
  const interfaces = p.of('AWS::EC2::VPCEndpoint').filter(([, e]) => e.Properties?.VpcEndpointType === 'Interface');
  if (interfaces.length > 0) {
    const azHours = interfaces.reduce(
      (sum, [, e]) => sum + ((e.Properties?.SubnetIds as unknown[] | undefined)?.length ?? facts.azs) * hours,
      0,
    );
    egress.push(
      p.push({
        item: 'VPC interface endpoints (in the template)',
        resources: interfaces.map(([id]) => id),
        usd: azHours * prices.vpcEndpointPerAzHour,
        arithmetic: `${interfaces.length} interface endpoints × their subnets = ${fmt(azHours)} AZ-hours × $${prices.vpcEndpointPerAzHour}; their data ($${prices.vpcEndpointPerGb} a GB) is the SQS, SNS and Secrets Manager calls' (not measured: a few KB a sweep and container); DynamoDB's, the probe's measured AWS traffic, goes through the gateway endpoint, free`,
      }),
    );
  }
  if (facts.egress === 'nat') {
    egress.push(
      p.push({
        item: "NAT gateway data (the platform's NAT)",
        resources: ['config: deployment.vpc'],
        usd: natGb * prices.natGatewayPerGb,
        arithmetic: `(${fmt(p.invocations)} invocations × ${fmt(nat.perInvocation)} B + ${fmt(p.tenantRuns)} tenant runs × ${fmt(nat.perTenantRun)} B + ${fmt(p.containers)} containers cold once a sweep × ${fmt(p.sweeps)} × ${fmt(nat.perColdStart)} B) = ${fmt(natGb)} GB × $${prices.natGatewayPerGb}; measured, both directions, TLS included (${nat.measured}); the gateway's hours are the platform's (a NAT gateway of the canary's own would add ${facts.azs} × ${hours} h × $${prices.natGatewayPerHour} = $${(facts.azs * hours * prices.natGatewayPerHour).toFixed(2)})`,
      }),
    );
  }
  return egress;
}

/** The synthetic jobs the canary causes on the platform (each accepted ticket an LLM run), priced apart from AWS. */
function syntheticJobsLine(p: Pricing): Bill['syntheticJobs'] {
  const perTenantDay = p.usage.syntheticJobsPerTenantDay ?? (24 * 60) / p.intervalMinutes;
  const perMonth = p.facts.tenants * perTenantDay * (p.hours / 24);
  const jobUsd = p.facts.syntheticJobUsd ?? 0.001;
  return {
    item: "Synthetic jobs on the platform (its LLM spend, not AWS's)",
    resources: ['config: synthetic.acceptEveryMinutes, costs.syntheticJobUsd'],
    usd: perMonth * jobUsd,
    perMonth,
    arithmetic: `${fmt(p.facts.tenants)} tenants × ${fmt(perTenantDay)} jobs a day × ${fmt(p.hours / 24)} days = ${fmt(perMonth)} jobs × $${jobUsd} (costs.syntheticJobUsd)`,
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

/** The bill as Markdown rows: every line (those out of the VPC marked), the total, then the synthetic jobs apart. */
export function billTable(bill: Bill): string {
  const usd = (value: number) => `$${value.toFixed(2)}`;
  const outside = new Set(bill.egress);
  const rows = bill.lines.map(
    (line) => `| ${line.item}${outside.has(line) ? ' (out of the VPC)' : ''} | ${usd(line.usd)} | ${line.arithmetic} |`,
  );
  const [low, high] = bill.totalUsdRange;
  const priced = `${bill.pricedAs} prices of ${bill.priceDate}${bill.priceNote === undefined ? '' : `: ${bill.priceNote}`}`;
  return [
    '| item | USD/month | arithmetic |',
    '| --- | ---: | --- |',
    ...rows,
    `| **total** | **${usd(bill.totalUsd)}** | ${priced}; ${usd(low)} to ${usd(high)} with custom metrics from a healthy month to every status seen |`,
    `| _apart: ${bill.syntheticJobs.item}_ | _${usd(bill.syntheticJobs.usd)}_ | ${bill.syntheticJobs.arithmetic} |`,
  ].join('\n');
}
