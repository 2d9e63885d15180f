/**
 * The monthly AWS bill of watching `tenants` every `intervalMinutes`, from measured figures, next
 * to CloudWatch Synthetics and Checkly list prices for the same work. A tenant run is one tenant
 * probed once (all its checks); the competitors are priced at one run per tenant run. Pure: prices and measured
 * inputs in, every line item with its arithmetic out (bench/README.md prints them).
 */
import { US_EAST_1 } from './prices.ts';

/**
 * List prices, USD: us-east-1's from bench/prices.ts (one table, with its date), and the
 * competitors' for one check of one tenant. This model compares designs; the bill of what ships
 * (bench/bill.ts) prices the deploy region.
 */
export const PRICES = {
  lambdaGbSecondArm: US_EAST_1.lambdaGbSecondArm,
  lambdaPerMillionRequests: US_EAST_1.lambdaPerMillionRequests,
  sqsPerMillionRequests: US_EAST_1.sqsPerMillionRequests,
  snsPerMillionPublishes: US_EAST_1.snsPerMillionPublishes,
  /** Email notifications: $2 per 100,000. */
  snsPerEmail: US_EAST_1.snsPerEmail,
  /** DynamoDB on-demand: per million write / read request units. */
  dynamoPerMillionWrites: US_EAST_1.dynamoPerMillionWrites,
  dynamoPerMillionReads: US_EAST_1.dynamoPerMillionReads,
  secretsPer10kCalls: US_EAST_1.secretsPer10kCalls,
  secretsPerSecretMonth: US_EAST_1.secretsPerSecretMonth,
  cloudwatchPerMetricMonth: US_EAST_1.cloudwatchPerMetricMonth,
  cloudwatchLogsPerGbIngested: US_EAST_1.cloudwatchLogsPerGbIngested,
  cloudwatchPerAlarmMonth: US_EAST_1.cloudwatchPerAlarmMetricMonth,
  schedulerPerMillionInvocations: US_EAST_1.schedulerPerMillionInvocations,
  /** Competitors' list prices for one check of one tenant. */
  cloudwatchSyntheticsPerRun: 0.0012,
  checklyPer10kApiRuns: 2,
} as const;

/** Lambda allocates one full vCPU at 1,769 MB, proportionally less below. */
export const MB_PER_VCPU = 1769;

export type Prices = { -readonly [K in keyof typeof PRICES]: number };

/** Measured (or read from the stack) figures the bill is computed from. */
export interface CostInputs {
  tenants: number;
  intervalMinutes: number;
  /** AWS bills a month as 730 hours. */
  hoursPerMonth: number;
  /** Memory of both functions, MB. */
  lambdaMemoryMb: number;
  /** Tenants per probe invocation (the SQS batch size). */
  tenantsPerInvocation: number;
  /** Probe-Lambda wall seconds per tenant run (measured sweep wall time / tenants). */
  probeSecondsPerTenantRun: number;
  /**
   * CPU seconds per tenant run (measured on a full core). Lambda gives a function
   * memory/1769 MB of a vCPU, so a small function is CPU-bound: it is billed at least
   * cpu × 1769 / memory seconds per tenant run.
   */
  probeCpuSecondsPerTenantRun: number;
  /** Billed sweep-Lambda seconds per sweep (platform checks, tenant list, SQS sends). */
  sweepSecondsPerSweep: number;
  /** INIT seconds of a cold start (measured import time), billed by Lambda. */
  coldStartSeconds: number;
  /**
   * Probe containers (the event source's maximum concurrency). Worst case, each one starts cold
   * once a sweep (idle for an interval) and refreshes its cached secrets then.
   */
  probeContainers: number;
  /**
   * Alert-state keys the sweep's judgement reads (BatchGet, strongly consistent: one read unit
   * per key, present or not): this many per tenant run (its failing results' keys and its share
   * of the open incidents), plus `stateKeysPerSweep` (platform keys, the open-incident index Query).
   */
  stateKeysPerTenantRun: number;
  stateKeysPerSweep: number;
  /** Sweep ledger: write units per probe invocation (its tenants' results item, by KB, and the counter). */
  ledgerWritesPerInvocation: number;
  /** Sweep ledger: read units per probe invocation (its item in the claim's and the judgement's strongly consistent Queries, by 4 KB). */
  ledgerReadsPerInvocation: number;
  /** Sweep ledger: write and read units per sweep (open, claim, close; pending sweeps). */
  ledgerWritesPerSweep: number;
  ledgerReadsPerSweep: number;
  /** Alert-state writes (and SNS publishes) per tenant per month: state changes only. */
  stateChangesPerTenantMonth: number;
  /** Secrets Manager secrets the canary reads (DB credentials, the tenant encryption key). */
  secrets: number;
  /** How long a container reuses a secret before reading it again, seconds. */
  secretCacheSeconds: number;
  /** Custom metrics (per check and status, never per tenant). */
  customMetrics: number;
  alarms: number;
  /** Log bytes ingested per tenant run, and per invocation (START/END/REPORT lines, summaries). */
  logBytesPerTenantRun: number;
  logBytesPerInvocation: number;
  /** SQS requests per month the event source mapping spends long-polling an empty queue. */
  sqsIdlePollRequestsMonth: number;
}

export interface LineItem {
  item: string;
  usd: number;
  /** How it was computed, with the numbers. */
  arithmetic: string;
}

export interface CostBreakdown {
  tenants: number;
  sweepsPerMonth: number;
  tenantRunsPerMonth: number;
  invocationsPerMonth: number;
  items: LineItem[];
  totalUsd: number;
  cloudwatchSyntheticsUsd: number;
  checklyUsd: number;
}

const fmt = (value: number): string =>
  value >= 1000 ? Math.round(value).toLocaleString('en-US') : Number(value.toPrecision(4)).toString();
const usd = (value: number): string => `$${value.toFixed(2)}`;

export function monthlyCost(inputs: CostInputs, prices: Prices = PRICES): CostBreakdown {
  const sweeps = (inputs.hoursPerMonth * 60) / inputs.intervalMinutes;
  const checks = inputs.tenants * sweeps;
  const invocations = Math.ceil(inputs.tenants / inputs.tenantsPerInvocation) * sweeps;
  const gb = inputs.lambdaMemoryMb / 1024;
  const items: LineItem[] = [];
  const add = (item: string, value: number, arithmetic: string) => items.push({ item, usd: value, arithmetic });

  const cpuBoundS = (inputs.probeCpuSecondsPerTenantRun * MB_PER_VCPU) / inputs.lambdaMemoryMb;
  const probeS = Math.max(inputs.probeSecondsPerTenantRun, cpuBoundS);
  const probeGbS = checks * probeS * gb;
  const why =
    cpuBoundS > inputs.probeSecondsPerTenantRun
      ? `CPU-bound: ${fmt(inputs.probeCpuSecondsPerTenantRun)} CPU-s × ${MB_PER_VCPU}/${inputs.lambdaMemoryMb} MB > ${fmt(inputs.probeSecondsPerTenantRun)} s wall`
      : `wall ${fmt(inputs.probeSecondsPerTenantRun)} s ≥ CPU-bound ${fmt(cpuBoundS)} s`;
  add(
    'Lambda probe compute',
    probeGbS * prices.lambdaGbSecondArm,
    `${fmt(checks)} tenant runs × ${fmt(probeS)} s (${why}) × ${fmt(gb)} GB = ${fmt(probeGbS)} GB-s × $${prices.lambdaGbSecondArm}`,
  );
  // Containers in use: at most the event source's concurrency, at most one per invocation.
  const containers = Math.min(inputs.probeContainers, invocations / sweeps);
  const coldStarts = containers * sweeps;
  const coldGbS = coldStarts * inputs.coldStartSeconds * gb;
  add(
    'Lambda probe cold starts (INIT billed)',
    coldGbS * prices.lambdaGbSecondArm,
    `${fmt(containers)} containers × ${fmt(sweeps)} sweeps (worst case: cold every sweep) × ${fmt(inputs.coldStartSeconds)} s × ${fmt(gb)} GB = ${fmt(coldGbS)} GB-s`,
  );
  const sweepGbS = sweeps * inputs.sweepSecondsPerSweep * gb;
  add(
    'Lambda sweep compute',
    sweepGbS * prices.lambdaGbSecondArm,
    `${fmt(sweeps)} sweeps × ${fmt(inputs.sweepSecondsPerSweep)} s × ${fmt(gb)} GB = ${fmt(sweepGbS)} GB-s`,
  );
  const requests = invocations + sweeps;
  add(
    'Lambda requests',
    (requests / 1e6) * prices.lambdaPerMillionRequests,
    `(${fmt(invocations)} probe + ${fmt(sweeps)} sweep) invocations × $${prices.lambdaPerMillionRequests}/M`,
  );
  const sends = Math.ceil(inputs.tenants / 10) * sweeps; // SendMessageBatch: 10 tenants a request
  const sqsRequests = sends + 2 * invocations + inputs.sqsIdlePollRequestsMonth;
  add(
    'SQS requests',
    (sqsRequests / 1e6) * prices.sqsPerMillionRequests,
    `${fmt(sends)} batch sends + 2 × ${fmt(invocations)} receive/delete + ${fmt(inputs.sqsIdlePollRequestsMonth)} idle long polls = ${fmt(sqsRequests)} × $${prices.sqsPerMillionRequests}/M`,
  );
  const changes = inputs.tenants * inputs.stateChangesPerTenantMonth;
  add(
    'SNS publishes (+ one email each)',
    (changes / 1e6) * prices.snsPerMillionPublishes + changes * prices.snsPerEmail,
    `${fmt(changes)} state changes × ($${prices.snsPerMillionPublishes}/M + $${prices.snsPerEmail} an email)`,
  );
  const stateReads = checks * inputs.stateKeysPerTenantRun + sweeps * inputs.stateKeysPerSweep;
  add(
    'DynamoDB alert state (on-demand)',
    (changes / 1e6) * prices.dynamoPerMillionWrites + (stateReads / 1e6) * prices.dynamoPerMillionReads,
    `${fmt(changes)} writes × $${prices.dynamoPerMillionWrites}/M + (${fmt(checks)} tenant runs × ${fmt(inputs.stateKeysPerTenantRun)} keys + ${fmt(sweeps)} sweeps × ${fmt(inputs.stateKeysPerSweep)} keys) = ${fmt(stateReads)} strongly consistent reads × $${prices.dynamoPerMillionReads}/M`,
  );
  const ledgerWrites = invocations * inputs.ledgerWritesPerInvocation + sweeps * inputs.ledgerWritesPerSweep;
  const ledgerReads = invocations * inputs.ledgerReadsPerInvocation + sweeps * inputs.ledgerReadsPerSweep;
  add(
    'DynamoDB sweep ledger (on-demand)',
    (ledgerWrites / 1e6) * prices.dynamoPerMillionWrites + (ledgerReads / 1e6) * prices.dynamoPerMillionReads,
    `(${fmt(invocations)} invocations × ${fmt(inputs.ledgerWritesPerInvocation)} + ${fmt(sweeps)} sweeps × ${fmt(inputs.ledgerWritesPerSweep)}) = ${fmt(ledgerWrites)} write units × $${prices.dynamoPerMillionWrites}/M + (${fmt(invocations)} × ${fmt(inputs.ledgerReadsPerInvocation)} + ${fmt(sweeps)} × ${fmt(inputs.ledgerReadsPerSweep)}) = ${fmt(ledgerReads)} read units × $${prices.dynamoPerMillionReads}/M`,
  );
  // Each container reads each secret once per cache period, and at most once a sweep.
  const intervalS = inputs.intervalMinutes * 60;
  const secretCalls =
    inputs.secrets * containers * ((inputs.hoursPerMonth * 3600) / Math.max(inputs.secretCacheSeconds, intervalS));
  add(
    'Secrets Manager',
    (secretCalls / 10_000) * prices.secretsPer10kCalls + inputs.secrets * prices.secretsPerSecretMonth,
    `${inputs.secrets} secrets × ${fmt(containers)} containers × one read per ${Math.max(inputs.secretCacheSeconds, intervalS)} s = ${fmt(secretCalls)} calls × $${prices.secretsPer10kCalls}/10k + ${inputs.secrets} secrets × $${prices.secretsPerSecretMonth}`,
  );
  add(
    'CloudWatch metrics and alarms',
    inputs.customMetrics * prices.cloudwatchPerMetricMonth + inputs.alarms * prices.cloudwatchPerAlarmMonth,
    `${inputs.customMetrics} custom metrics × $${prices.cloudwatchPerMetricMonth} + ${inputs.alarms} alarms × $${prices.cloudwatchPerAlarmMonth}`,
  );
  const logGb = (checks * inputs.logBytesPerTenantRun + (invocations + sweeps) * inputs.logBytesPerInvocation) / 1e9;
  add(
    'CloudWatch Logs ingestion',
    logGb * prices.cloudwatchLogsPerGbIngested,
    `(${fmt(checks)} × ${fmt(inputs.logBytesPerTenantRun)} B + ${fmt(invocations + sweeps)} × ${fmt(inputs.logBytesPerInvocation)} B) = ${fmt(logGb)} GB × $${prices.cloudwatchLogsPerGbIngested}`,
  );
  add(
    'EventBridge Scheduler',
    (sweeps / 1e6) * prices.schedulerPerMillionInvocations,
    `${fmt(sweeps)} invocations × $${prices.schedulerPerMillionInvocations}/M`,
  );

  const total = items.reduce((sum, line) => sum + line.usd, 0);
  return {
    tenants: inputs.tenants,
    sweepsPerMonth: sweeps,
    tenantRunsPerMonth: checks,
    invocationsPerMonth: invocations,
    items,
    totalUsd: total,
    cloudwatchSyntheticsUsd: checks * prices.cloudwatchSyntheticsPerRun,
    checklyUsd: (checks / 10_000) * prices.checklyPer10kApiRuns,
  };
}

/** The breakdown as Markdown table rows (`| item | $ | arithmetic |`). */
export function costTable(cost: CostBreakdown): string {
  const rows = cost.items.map((line) => `| ${line.item} | ${usd(line.usd)} | ${line.arithmetic} |`);
  return [
    '| item | USD/month | arithmetic |',
    '| --- | ---: | --- |',
    ...rows,
    `| **total** | **${usd(cost.totalUsd)}** | |`,
    `| CloudWatch Synthetics (list) | ${usd(cost.cloudwatchSyntheticsUsd)} | ${fmt(cost.tenantRunsPerMonth)} canary runs × $${PRICES.cloudwatchSyntheticsPerRun} |`,
    `| Checkly (list) | ${usd(cost.checklyUsd)} | ${fmt(cost.tenantRunsPerMonth)} API runs / 10,000 × $${PRICES.checklyPer10kApiRuns} |`,
  ].join('\n');
}
