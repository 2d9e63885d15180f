import { describe, expect, it } from 'vitest';
import { type CostInputs, costTable, MB_PER_VCPU, monthlyCost, PRICES } from '../../bench/cost.ts';

const base: CostInputs = {
  tenants: 1000,
  intervalMinutes: 5,
  hoursPerMonth: 730,
  lambdaMemoryMb: 1024,
  tenantsPerInvocation: 10,
  probeSecondsPerTenantRun: 0.1,
  probeCpuSecondsPerTenantRun: 0.001,
  sweepSecondsPerSweep: 1,
  coldStartSeconds: 0,
  probeContainers: 10,
  stateKeysPerTenantRun: 0,
  stateKeysPerSweep: 0,
  ledgerWritesPerInvocation: 0,
  ledgerReadsPerInvocation: 0,
  ledgerWritesPerSweep: 0,
  ledgerReadsPerSweep: 0,
  stateChangesPerTenantMonth: 0,
  secrets: 0,
  secretCacheSeconds: 300,
  customMetrics: 0,
  alarms: 0,
  logBytesPerTenantRun: 0,
  logBytesPerInvocation: 0,
  sqsIdlePollRequestsMonth: 0,
};

const item = (cost: ReturnType<typeof monthlyCost>, name: string) => cost.items.find((line) => line.item === name)!;

describe('monthlyCost', () => {
  it('counts sweeps, tenant runs and invocations of a 730-hour month', () => {
    const cost = monthlyCost(base);
    expect(cost.sweepsPerMonth).toBe(8760);
    expect(cost.tenantRunsPerMonth).toBe(8_760_000);
    expect(cost.invocationsPerMonth).toBe(876_000);
  });

  it('bills Lambda compute as tenant runs × seconds × GB at the arm64 rate', () => {
    const cost = monthlyCost(base);
    // 8.76 M × 0.1 s × 1 GB = 876,000 GB-s
    expect(item(cost, 'Lambda probe compute').usd).toBeCloseTo(876_000 * PRICES.lambdaGbSecondArm, 6);
    expect(item(cost, 'Lambda sweep compute').usd).toBeCloseTo(8760 * PRICES.lambdaGbSecondArm, 6);
    expect(item(cost, 'Lambda requests').usd).toBeCloseTo(((876_000 + 8760) / 1e6) * 0.2, 9);
  });

  it('scales waiting linearly: half the seconds, half the compute', () => {
    const full = item(monthlyCost(base), 'Lambda probe compute').usd;
    const half = item(monthlyCost({ ...base, probeSecondsPerTenantRun: 0.05 }), 'Lambda probe compute').usd;
    expect(half).toBeCloseTo(full / 2, 9);
  });

  it('bills a CPU-bound function for its CPU time scaled to its share of a vCPU', () => {
    // 0.05 CPU-s at 256 MB: 0.05 × 1769 / 256 = 0.3455 s > 0.1 s wall
    const cost = monthlyCost({ ...base, lambdaMemoryMb: 256, probeCpuSecondsPerTenantRun: 0.05 });
    const seconds = (0.05 * MB_PER_VCPU) / 256;
    expect(item(cost, 'Lambda probe compute').usd).toBeCloseTo(
      8_760_000 * seconds * 0.25 * PRICES.lambdaGbSecondArm,
      6,
    );
    expect(item(cost, 'Lambda probe compute').arithmetic).toContain('CPU-bound');
  });

  it('prices the competitors per tenant run', () => {
    const cost = monthlyCost(base);
    expect(cost.cloudwatchSyntheticsUsd).toBeCloseTo(8_760_000 * 0.0012, 6);
    expect(cost.checklyUsd).toBeCloseTo(876 * 2, 6);
  });

  it('adds state reads, secrets, metrics, logs and SQS polling, and the total is the sum', () => {
    const cost = monthlyCost({
      ...base,
      stateKeysPerTenantRun: 14,
      stateKeysPerSweep: 28,
      ledgerWritesPerInvocation: 2,
      ledgerReadsPerInvocation: 0.5,
      ledgerWritesPerSweep: 4,
      ledgerReadsPerSweep: 1,
      stateChangesPerTenantMonth: 4,
      secrets: 2,
      coldStartSeconds: 0.5,
      customMetrics: 10,
      alarms: 3,
      logBytesPerTenantRun: 1000,
      sqsIdlePollRequestsMonth: 1_000_000,
    });
    // 8.76 M tenant runs × 14 keys + 8,760 sweeps × 28 keys
    expect(item(cost, 'DynamoDB alert state (on-demand)').usd).toBeCloseTo(
      (4000 / 1e6) * PRICES.dynamoPerMillionWrites +
        ((8_760_000 * 14 + 8760 * 28) / 1e6) * PRICES.dynamoPerMillionReads,
      9,
    );
    // per probe invocation (876,000 of 10 tenants), not per tenant run
    expect(item(cost, 'DynamoDB sweep ledger (on-demand)').usd).toBeCloseTo(
      ((876_000 * 2 + 8760 * 4) / 1e6) * PRICES.dynamoPerMillionWrites +
        ((876_000 * 0.5 + 8760) / 1e6) * PRICES.dynamoPerMillionReads,
      9,
    );
    // 2 secrets × 10 containers × one read a sweep (8,760) = 175,200 calls
    expect(item(cost, 'Secrets Manager').usd).toBeCloseTo((175_200 / 10_000) * 0.05 + 0.8, 9);
    // 10 containers cold once a sweep × 0.5 s × 1 GB
    expect(item(cost, 'Lambda probe cold starts (INIT billed)').usd).toBeCloseTo(
      87_600 * 0.5 * PRICES.lambdaGbSecondArm,
      9,
    );
    expect(item(cost, 'CloudWatch metrics and alarms').usd).toBeCloseTo(3.3, 9);
    expect(item(cost, 'CloudWatch Logs ingestion').usd).toBeCloseTo(8.76 * 0.5, 9);
    expect(item(cost, 'SQS requests').usd).toBeCloseTo(((876_000 + 2 * 876_000 + 1_000_000) / 1e6) * 0.4, 9);
    expect(cost.totalUsd).toBeCloseTo(
      cost.items.reduce((sum, line) => sum + line.usd, 0),
      12,
    );
  });

  it('renders every line and the totals as a Markdown table', () => {
    const table = costTable(monthlyCost(base));
    expect(table.split('\n')).toHaveLength(2 + 12 + 3);
    expect(table).toContain('| **total** |');
    expect(table).toContain('CloudWatch Synthetics');
  });
});
