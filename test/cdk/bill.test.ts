/**
 * The bill prices the synthesised template: every resource type in it is priced or known to be
 * free, and the fixed items follow the template (alarms, dashboard, key) and the config (secrets).
 * It is the bill of everything the canary causes (issue 24): NAT data in the total, the config's
 * deploy region priced, custom metrics as a range, partial batches counted, and the synthetic jobs
 * a month as their own line at `costs.syntheticJobUsd`, apart from the AWS total.
 */
import { describe, expect, it } from 'vitest';
import { BILL_PRICES, type BillUsage, invocationSeconds, priceTemplate } from '../../bench/bill.ts';
import { PRICE_DATE, REGION_PRICES } from '../../bench/prices.ts';
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
  natBytes: { perInvocation: 5_000, perTenantRun: 20_000, perColdStart: 100_000, measured: 'the test figures' },
  tableBytes: 50_000_000,
};

/** The NAT data of the platform example at 1,000 tenants with {@link usage}'s bytes, GB. */
const NAT_GB_1000 = (876_000 * 5_000 + 8_760_000 * 20_000 + 20 * 8_760 * 100_000) / 1e9;

/** The static example with a platform API inside the VPC: interface endpoints are enough (no NAT). */
function endpointsConfig(): Record<string, unknown> {
  const config = exampleConfig() as {
    platform: Record<string, unknown>;
    deployment: { vpc: Record<string, unknown> };
  };
  config.platform = { ...config.platform, baseUrl: 'https://api.platform.internal' };
  config.deployment.vpc = { ...config.deployment.vpc, egress: 'endpoints', routeTableIds: ['rtb-0a1b2c3d4e5f60718'] };
  return config;
}

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
    // 6 secrets: probe login, tenant source, Fernet key, Redis password, PagerDuty routing key, and
    // the resolved-ticket entry point's (platform.entryPoints).
    expect(line(bill, 'Secrets Manager').arithmetic).toMatch(/^6 secrets \(6 shared \+ 0 tenants' own\)/);
    // 1,000 tenants in batches of 10, every 5 minutes: 100 × 8,760 invocations.
    expect(bill.invocationsPerMonth).toBe(876_000);
    expect(bill.egress.map((l) => l.item)).toEqual(["NAT gateway data (the platform's NAT)"]);
  });

  it('prices a static list per tenant secret, and its interface endpoints in the total at the deploy region', () => {
    const { bill } = billOf(endpointsConfig(), 3);
    expect(bill.unpriced).toEqual([]);
    expect(bill.pricedAs).toBe('eu-west-1');
    expect(line(bill, 'Secrets Manager').arithmetic).toMatch(/3 tenants' own/);
    const endpoints = bill.egress.find((l) => l.item.startsWith('VPC interface endpoints'));
    expect(endpoints?.resources.length).toBeGreaterThanOrEqual(3);
    expect(bill.lines).toContain(endpoints);
    // At least 3 endpoints × 2 AZs × 730 h at Ireland's $0.011 an AZ-hour (us-east-1: $0.01).
    const azHour = REGION_PRICES['eu-west-1']?.vpcEndpointPerAzHour as number;
    expect(azHour).toBeGreaterThan(BILL_PRICES.vpcEndpointPerAzHour);
    expect(endpoints?.usd).toBeGreaterThanOrEqual(3 * 2 * 730 * azHour);
    expect(endpoints?.arithmetic).toContain(`× $${azHour};`);
  });

  it('has no NAT line with `egress: endpoints`: nothing goes through a NAT', () => {
    const { bill } = billOf(endpointsConfig(), 3);
    expect(bill.natIncluded).toBe(false);
    expect(bill.lines.map((l) => l.item).filter((item) => item.startsWith('NAT'))).toEqual([]);
    expect(bill.egress.map((l) => l.item).filter((item) => item.startsWith('NAT'))).toEqual([]);
  });

  it('names a resource type it does not price instead of leaving it out', () => {
    const { resources } = billOf(platformExampleConfig(), 1000);
    const extra = { ...resources, Cache: { Type: 'AWS::ElastiCache::CacheCluster', Properties: {} } };
    const bill = priceTemplate(extra, configFacts(parseDeploymentConfig(platformExampleConfig()), 1000), usage);
    expect(bill.unpriced).toEqual(['AWS::ElastiCache::CacheCluster']);
  });
});

describe('the bill of everything the canary causes (issue 24)', () => {
  const platform = () => billOf(platformExampleConfig(), 1000);

  it('puts the NAT data in the total, priced at the deploy region (eu-west-1 in the example)', () => {
    const { bill } = platform();
    expect(bill.natIncluded).toBe(true);
    expect(bill.region).toBe('eu-west-1');
    expect(bill.pricedAs).toBe('eu-west-1');
    expect(bill.priceDate).toBe(PRICE_DATE);
    expect(bill.priceNote).toBeUndefined();
    const nat = line(bill, "NAT gateway data (the platform's NAT)");
    // 876,000 invocations × 5,000 B + 8,760,000 tenant runs × 20,000 B + 20 containers cold once a
    // sweep × 8,760 × 100,000 B = 197.1 GB at Ireland's $0.048 a GB.
    expect(nat.usd).toBeCloseTo(NAT_GB_1000 * 0.048, 6);
    expect(bill.egress).toContain(nat);
    // In the total: it is one of the bill's lines, and the total without it is the same bill with
    // no NAT egress (outside a VPC's NAT: every other line unchanged).
    expect(bill.lines).toContain(nat);
    const { resources } = platform();
    const facts = configFacts(parseDeploymentConfig(platformExampleConfig()), 1000);
    const noNat = priceTemplate(resources, { ...facts, egress: undefined }, usage);
    expect(noNat.natIncluded).toBe(false);
    expect(bill.totalUsd - nat.usd).toBeCloseTo(noNat.totalUsd, 9);
    // Logs ingested in Ireland cost $0.57 a GB, not us-east-1's $0.50.
    expect(line(bill, 'CloudWatch Logs (lines and EMF)').arithmetic).toContain('× $0.57 +');
  });

  it('prices the measured NAT bytes: per invocation, per tenant run, per cold container, partial batches counted', () => {
    const { resources } = platform();
    const facts = configFacts(parseDeploymentConfig(platformExampleConfig()), 1000);
    // Paced: 250 invocations a sweep (4 tenants each), 12 containers; the measured bytes of bench/shipped.ts natOf.
    const natBytes = {
      perInvocation: 4_000,
      perTenantRun: 28_000,
      perColdStart: 140_000,
      measured: 'a warm invocation of 10 tenants 284,000 B',
    };
    const bill = priceTemplate(resources, facts, {
      ...usage,
      natBytes,
      probeInvocationsPerSweep: 250,
      probeContainers: 12,
    });
    const nat = line(bill, "NAT gateway data (the platform's NAT)");
    const bytes = 250 * 8760 * 4_000 + 1000 * 8760 * 28_000 + 12 * 8760 * 140_000;
    expect(nat.usd).toBeCloseTo((bytes / 1e9) * 0.048, 9);
    // Not the old estimate (40,000 B a tenant run, whatever the batches): 350.4 GB.
    expect(nat.usd).not.toBeCloseTo(350.4 * 0.048, 2);
    expect(nat.arithmetic).toMatch(
      /^\(2,190,000 invocations × 4,000 B \+ 8,760,000 tenant runs × 28,000 B \+ 12 containers cold once a sweep × 8,760 × 140,000 B\) = 268\.8 GB × \$0\.048; measured, both directions, TLS included \(a warm invocation of 10 tenants 284,000 B\)/,
    );
    expect(nat.arithmetic).not.toMatch(/estimate/);
    // Fewer bytes a tenant run (reused sessions and connections) lower the line in proportion.
    const fewer = priceTemplate(resources, facts, {
      ...usage,
      natBytes: { ...natBytes, perTenantRun: 14_000 },
      probeInvocationsPerSweep: 250,
      probeContainers: 12,
    });
    const saved =
      line(bill, "NAT gateway data (the platform's NAT)").usd -
      line(fewer, "NAT gateway data (the platform's NAT)").usd;
    expect(saved).toBeCloseTo(((1000 * 8760 * 14_000) / 1e9) * 0.048, 9);
    expect(bill.natIncluded).toBe(true);
  });

  it('prices an unknown region as us-east-1 and says so', () => {
    const { resources } = platform();
    const facts = { ...configFacts(parseDeploymentConfig(platformExampleConfig()), 1000), region: 'ap-south-2' };
    const bill = priceTemplate(resources, facts, usage);
    expect(bill.pricedAs).toBe('us-east-1');
    expect(bill.priceNote).toMatch(/ap-south-2 is not in the bench's price table .*priced as us-east-1/);
    const nat = line(bill, "NAT gateway data (the platform's NAT)");
    expect(nat.usd).toBeCloseTo(NAT_GB_1000 * (REGION_PRICES['us-east-1']?.natGatewayPerGb ?? 0), 6);
    const unset = priceTemplate(resources, { ...facts, region: undefined }, usage);
    expect(unset.priceNote).toMatch(/no deployment.env.region/);
  });

  it('gives custom metrics as a range: a healthy month, and every check seen in every status', () => {
    const { resources } = platform();
    const facts = configFacts(parseDeploymentConfig(platformExampleConfig()), 1000);
    const bill = priceTemplate(resources, facts, { ...usage, customMetricsEveryStatus: 140 });
    const [low, high] = bill.totalUsdRange;
    expect(low).toBeCloseTo(bill.totalUsd, 9);
    expect(high - low).toBeCloseTo((140 - 40) * 0.3, 9);
    expect(line(bill, 'CloudWatch custom metrics (EMF)').arithmetic).toMatch(
      /40 metrics in a healthy month.*up to 140/,
    );
  });

  it('counts partial batches: invocations from the paced sweep, each billed by its tenants', () => {
    const { resources } = platform();
    const facts = configFacts(parseDeploymentConfig(platformExampleConfig()), 1000);
    const full = priceTemplate(resources, facts, usage);
    // Paced over the interval, 1,000 tenants arrive a few a second: 250 invocations of 4 tenants.
    const paced = priceTemplate(resources, facts, {
      ...usage,
      probeInvocationsPerSweep: 250,
      probeTenantInvocationS: 0.2,
    });
    expect(full.invocationsPerMonth).toBe(100 * 8760);
    expect(paced.invocationsPerMonth).toBe(250 * 8760);
    // A batch of 4 of 10: a third of the way from a batch of one (0.2 s) to a full one (0.5 s).
    const seconds = invocationSeconds({ ...usage, probeTenantInvocationS: 0.2 }, 4, 10);
    expect(seconds).toBeCloseTo(0.3, 9);
    expect(line(paced, 'Lambda probe compute (invocations + INIT)').arithmetic).toMatch(
      /^2,190,000 invocations of up to 10 tenants × 0\.3 s \(partial batches: 4 tenants/,
    );
    // + 8,760 sweeps + 2,000 forwarded alerts.
    expect(line(paced, 'Lambda requests').arithmetic).toMatch(/^2,200,760 invocations/);
    expect(line(paced, 'SQS requests').arithmetic).toContain('2 × 2,190,000 receive/delete');
    expect(line(paced, 'SQS requests').usd).toBeGreaterThan(line(full, 'SQS requests').usd);
    // A partial batch logs its own tenants' lines, not ten: per invocation only what does not depend on them.
    const logged = priceTemplate(resources, facts, {
      ...usage,
      probeInvocationsPerSweep: 250,
      logBytesPerTenantRun: 750,
    });
    expect(line(logged, 'CloudWatch Logs (lines and EMF)').arithmetic).toMatch(
      /^\(2,190,000 invocations × 2,500 B \+ 8,760,000 tenant runs × 750 B \+ 8,760 sweeps × 5,000 B\)/,
    );
    expect(line(logged, 'CloudWatch Logs (lines and EMF)').usd).toBeLessThan(
      line(paced, 'CloudWatch Logs (lines and EMF)').usd,
    );
    // Without a batch of one measured, a partial batch is billed as a full one.
    expect(invocationSeconds(usage, 4, 10)).toBe(usage.probeInvocationS);
  });

  it('prices the synthetic jobs a month at costs.syntheticJobUsd, apart from the AWS total', () => {
    const config = platformExampleConfig();
    const { resources } = platform();
    const defaults = configFacts(parseDeploymentConfig(config), 1000);
    expect(defaults.syntheticJobUsd).toBe(0.001);
    const facts = configFacts(parseDeploymentConfig({ ...config, costs: { syntheticJobUsd: 0.002 } }), 1000);
    expect(facts.syntheticJobUsd).toBe(0.002);
    // One accepted ticket a tenant an hour (acceptEveryMinutes 60): 24 a day, 730,000 a month.
    const bill = priceTemplate(resources, facts, { ...usage, syntheticJobsPerTenantDay: 24 });
    expect(bill.syntheticJobs.perMonth).toBeCloseTo(730_000, 6);
    expect(bill.syntheticJobs.usd).toBeCloseTo(1460, 6);
    expect(bill.lines.map((l) => l.item)).not.toContain(bill.syntheticJobs.item);
    expect(bill.totalUsd).toBeLessThan(bill.syntheticJobs.usd);
    // Unsampled (every sweep): 288 a tenant a day.
    const unsampled = priceTemplate(resources, facts, usage);
    expect(unsampled.syntheticJobs.perMonth).toBeCloseTo(1000 * 288 * (730 / 24), 6);
    expect(() => parseDeploymentConfig({ ...config, costs: { syntheticJobUsd: -1 } })).toThrow(/syntheticJobUsd/);
  });
});
