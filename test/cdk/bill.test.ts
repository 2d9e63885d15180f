/**
 * The bill prices the synthesised template: every resource type in it is priced or known to be
 * free, and the fixed items follow the template (alarms, dashboard, key) and the config (secrets).
 */
import { describe, expect, it } from 'vitest';
import { BILL_PRICES, type BillUsage, priceTemplate } from '../../bench/bill.ts';
import { configFacts } from '../../bench/shipped.ts';
import type { TemplateResource } from '../../bench/template.ts';
import { parseDeploymentConfig } from '../../lib/config.ts';
import { buildStack, exampleConfig, platformExampleConfig } from './support.ts';

const usage: BillUsage = {
  probeInvocationS: 0.5,
  probeInitS: 0.2,
  sweepS: 1,
  sweepInitS: 0.1,
  logBytesPerProbeInvocation: 10_000,
  logBytesPerSweep: 5_000,
  customMetrics: 40,
  stateKeysPerTenantRun: 0.01,
  stateKeysPerSweep: 2,
  ledgerWritesPerInvocation: 3,
  ledgerReadsPerInvocation: 1,
  ledgerWritesPerSweep: 5,
  ledgerReadsPerSweep: 2,
  stateChangesPerTenantMonth: 4,
  forwarderSecondsPerAlert: 0.3,
  secretCacheSeconds: 300,
  networkBytesPerTenantRun: 40_000,
  tableBytes: 50_000_000,
};

function billOf(config: Record<string, unknown>, tenants: number) {
  const { template } = buildStack(config);
  const resources = template.toJSON().Resources as Record<string, TemplateResource>;
  return { resources, bill: priceTemplate(resources, configFacts(parseDeploymentConfig(config), tenants), usage) };
}
const line = (bill: ReturnType<typeof priceTemplate>, item: string) => {
  const found = bill.lines.find((l) => l.item === item);
  if (!found) throw new Error(`no line ${item}`);
  return found;
};

describe('the bill of the synthesised template', () => {
  it('prices every resource of the platform example, or knows it is free', () => {
    const { resources, bill } = billOf(platformExampleConfig(), 1000);
    expect(bill.unpriced).toEqual([]);
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').length;
    expect(alarms).toBeGreaterThanOrEqual(17);
    expect(line(bill, 'CloudWatch alarms').usd).toBeCloseTo(alarms * BILL_PRICES.cloudwatchPerAlarmMetricMonth, 6);
    expect(line(bill, 'CloudWatch dashboard').usd).toBe(3);
    expect(line(bill, 'KMS keys and requests').usd).toBeGreaterThanOrEqual(1);
    // 5 secrets: probe login, tenant source, Fernet key, Redis password, PagerDuty routing key.
    expect(line(bill, 'Secrets Manager').arithmetic).toMatch(/^5 secrets \(5 shared \+ 0 tenants' own\)/);
    // 1,000 tenants in batches of 10, every 5 minutes: 100 × 8,760 invocations.
    expect(bill.invocationsPerMonth).toBe(876_000);
    expect(bill.totalUsd).toBeCloseTo(
      bill.lines.reduce((sum, l) => sum + l.usd, 0),
      9,
    );
    expect(bill.egress.map((l) => l.item)).toEqual(["NAT gateway data (the platform's NAT)"]);
  });

  it('prices a static list per tenant secret, and interface endpoints apart from the total', () => {
    const config = exampleConfig() as {
      platform: Record<string, unknown>;
      deployment: { vpc: Record<string, unknown> };
    };
    // A platform API inside the VPC: endpoints are enough.
    config.platform = { ...config.platform, baseUrl: 'https://api.platform.internal' };
    config.deployment.vpc = { ...config.deployment.vpc, egress: 'endpoints', routeTableIds: ['rtb-0a1b2c3d4e5f60718'] };
    const { bill } = billOf(config, 3);
    expect(bill.unpriced).toEqual([]);
    expect(line(bill, 'Secrets Manager').arithmetic).toMatch(/3 tenants' own/);
    const endpoints = bill.egress.find((l) => l.item.startsWith('VPC interface endpoints'));
    expect(endpoints?.resources.length).toBeGreaterThanOrEqual(3);
    expect(endpoints?.usd).toBeGreaterThan(3 * 2 * 730 * BILL_PRICES.vpcEndpointPerAzHour - 0.01);
  });

  it('names a resource type it does not price instead of leaving it out', () => {
    const { resources } = billOf(platformExampleConfig(), 1000);
    const extra = { ...resources, Cache: { Type: 'AWS::ElastiCache::CacheCluster', Properties: {} } };
    const bill = priceTemplate(extra, configFacts(parseDeploymentConfig(platformExampleConfig()), 1000), usage);
    expect(bill.unpriced).toEqual(['AWS::ElastiCache::CacheCluster']);
  });
});
