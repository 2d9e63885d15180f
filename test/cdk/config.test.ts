/**
 * The deployment config: the CLI's schema plus `deployment`, validated at synth with every
 * problem naming its field, and refusing what a deployed canary must not carry (secret values).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/config.ts';
import { loadDeploymentConfig, parseDeploymentConfig } from '../../lib/config.ts';
import { EXAMPLE_PATH, exampleConfig, PLATFORM_EXAMPLE_PATH } from './support.ts';

function issuesOf(input: unknown): string[] {
  try {
    parseDeploymentConfig(input);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
}

const withDeployment = (deployment: Record<string, unknown>) => {
  const config = exampleConfig();
  return { ...config, deployment: { ...(config.deployment as object), ...deployment } };
};
const withBudget = (config: Record<string, unknown>, requestBudgetRps: number) => ({
  ...config,
  platform: { ...(config.platform as object), requestBudgetRps },
});

describe('deployment config', () => {
  it('accepts the static example, with the queue key and signature format of the platform', () => {
    const config = loadDeploymentConfig(EXAMPLE_PATH);
    expect(config.canary.redis?.queueKeys).toEqual(['enhancement:queue']);
    expect(config.canary.platform.signatureFormat).toBe('sha256-prefixed');
    expect(config.canary.database?.enhancementTextColumn).toBe('llm_output');
    expect(config.deployment.schedule).toEqual({ rateMinutes: 5, retryAttempts: 2, maxEventAgeMinutes: 4 });
    expect(config.secretIds).toHaveLength(5);
    expect(config.canary.database?.tls).toEqual({
      mode: 'verify-full',
      caFile: 'examples/certs/rds-global-bundle.pem',
    });
    expect(Object.keys(config.caFiles)).toEqual(['canary-database-ca.pem']);
  });

  it('accepts the platform example a 1,000-tenant platform deploys: tenants from the database, deferred round trips', () => {
    const config = loadDeploymentConfig(PLATFORM_EXAMPLE_PATH);
    expect(config.canary.tenants).toEqual([]);
    expect(config.canary.tenantSource).toMatchObject({
      type: 'database',
      secretId: 'tenant-canary/tenant-source-db',
      encryptionKey: { secretId: 'tenant-canary/tenant-encryption-key' },
    });
    expect(config.canary.run.roundTrip).toBe('deferred');
    expect(config.deployment.expectedTenants).toBe(1000);
    // Secrets the sweep and probe read: the database login, the tenant source's, the Fernet key,
    // Redis, the resolved-ticket entry point's shared secret (the PagerDuty routing key is the forwarder's alone).
    expect(config.secretIds).toEqual([
      'tenant-canary/platform-webhook-secret',
      'tenant-canary/probe-db',
      'tenant-canary/redis',
      'tenant-canary/tenant-encryption-key',
      'tenant-canary/tenant-source-db',
    ]);
  });

  it('fills every deployment default when the section is left out', () => {
    const { deployment: _d, ...canary } = exampleConfig();
    const config = parseDeploymentConfig(canary);
    expect(config.deployment.vpc).toBeUndefined();
    expect(config.deployment.probe.maxConcurrency).toBe(10);
    expect(config.deployment.subscriptions.P0).toEqual([]);
  });

  it('names the field of each problem, canary and deployment alike, all at once', () => {
    const config = exampleConfig() as { platform: Record<string, unknown> };
    const issues = issuesOf({
      ...config,
      platform: { ...config.platform, baseUrl: 'ftp://nope' },
      deployment: {
        vpc: { vpcId: 'vpc-1', subnetIds: [], securityGroupIds: ['nope'] },
        subscriptions: { P0: [{ email: 'not-an-address' }], P4: [] },
        probe: { maxConcurrency: 1 },
      },
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        'platform.baseUrl must be an absolute http:// or https:// URL',
        expect.stringMatching(/^deployment\.vpc\.vpcId must be a VPC id/),
        'deployment.vpc.subnetIds must list at least one a subnet id',
        expect.stringMatching(/^deployment\.vpc\.securityGroupIds\[0\] must be a security group id/),
        expect.stringMatching(/^deployment\.subscriptions\.P0\[0\]/),
        'deployment.subscriptions has unknown field "P4"',
        'deployment.probe.maxConcurrency must be an integer from 2 to 1000',
      ]),
    );
  });

  it('refuses a maximum event age that is not shorter than the interval', () => {
    expect(issuesOf(withDeployment({ schedule: { rateMinutes: 5, maxEventAgeMinutes: 5 } }))).toEqual([
      'deployment.schedule.maxEventAgeMinutes must be shorter than schedule.rateMinutes (5) so late sweeps never pile up',
    ]);
  });

  it('refuses retries that cannot reach the dead-letter queue inside the interval, and operator roles that are no role ARN', () => {
    expect(issuesOf(withDeployment({ probe: { maxReceiveCount: 5, retryDelaySeconds: 60 } }))).toEqual([
      'deployment.probe.retryDelaySeconds times probe.maxReceiveCount (5) must be shorter than the sweep interval (300 s): a tenant that cannot be probed must reach the dead-letter queue while its sweep is drained',
    ]);
    expect(issuesOf(withDeployment({ probe: { maxReceiveCount: 3, retryDelaySeconds: 60 } }))).toEqual([]);
    expect(issuesOf(withDeployment({ operatorRoleArns: ['arn:aws:iam::123456789012:user/alice'] }))).toEqual([
      'deployment.operatorRoleArns[0] must be an IAM role ARN, such as arn:aws:iam::123456789012:role/oncall',
    ]);
  });

  it('refuses a probe timeout shorter than the round trip an on-demand run waits for, and embeds the real interval', () => {
    const config = exampleConfig() as Record<string, unknown>;
    expect(issuesOf({ ...withDeployment({ probe: { timeoutSeconds: 100 } }) })).toEqual([
      'deployment.probe.timeoutSeconds must be at least thresholds.roundTripTimeoutS + 30 (150): an on-demand probe waits for the round trip',
    ]);
    // Even with deferred round trips: on-demand runs wait.
    expect(
      issuesOf({ ...withDeployment({ probe: { timeoutSeconds: 100 } }), run: { roundTrip: 'deferred' } }),
    ).toHaveLength(1);
    // The drain deadline and deferred look-back use the schedule's interval, whatever run.sweepIntervalS says.
    const embedded = parseDeploymentConfig({
      ...config,
      run: { sweepIntervalS: 60 },
      deployment: { ...(config.deployment as object), schedule: { rateMinutes: 10 } },
    }).embedded as { run: { sweepIntervalS: number } };
    expect(embedded.run.sweepIntervalS).toBe(600);
  });

  it('refuses secret values and passwords that would be written into the bundle', () => {
    const config = exampleConfig() as { tenants: unknown[]; database: Record<string, unknown> };
    const issues = issuesOf({
      ...config,
      tenants: [
        { tenantId: 'acme-corp', signingSecret: { value: 'sekrit-value-1234' } },
        { tenantId: 'globex', signingSecret: { env: 'GLOBEX_SECRET' } },
      ],
      database: { url: 'postgres://probe:hunter2@db:5432/ai_agents' },
      redis: { url: 'redis://:pw@redis:6379/0' },
      alerts: {
        topics: {
          P0: 'arn:aws:sns:eu-west-1:123456789012:a',
          P1: 'arn:aws:sns:eu-west-1:123456789012:b',
          P2: 'arn:aws:sns:eu-west-1:123456789012:c',
          P3: 'arn:aws:sns:eu-west-1:123456789012:d',
        },
      },
    });
    expect(issues).toEqual([
      'tenants[0].signingSecret must be a {"secretId": ...} reference in a deployment: a value would be written into the bundle',
      'tenants[1].signingSecret must be a {"secretId": ...} reference in a deployment: the functions have no GLOBEX_SECRET',
      'database.url must not contain a password (nor be unparsable) in a deployment: use database.secretId',
      'redis.url must not contain credentials (nor be unparsable) in a deployment: they would be written into the bundle',
      'alerts.topics must be left out in a deployment: the stack creates one topic per tier',
    ]);
    expect(issues.join('\n')).not.toContain('sekrit-value-1234');
    expect(issues.join('\n')).not.toContain('hunter2');
  });

  it('finds passwords in query strings and credentials in the base URL', () => {
    const config = exampleConfig() as { platform: Record<string, unknown>; database: Record<string, unknown> };
    const issues = issuesOf({
      ...config,
      platform: { ...config.platform, baseUrl: 'https://api:BasicPw99@api.example.com' },
      database: { url: 'postgres://canary@db.internal:5432/x?PassWord=QueryPw1' },
      // ioredis takes every query parameter as an option, sentinelPassword too.
      redis: { url: 'redis://cache:6379/0?sentinelPassword=Sentinel-Pw5' },
    });
    expect(issues).toEqual([
      'platform.baseUrl must not contain credentials in a deployment (it would be written into the bundle)',
      'database.url must not contain a password (nor be unparsable) in a deployment: use database.secretId',
      'redis.url must not contain credentials (nor be unparsable) in a deployment: they would be written into the bundle',
    ]);
    for (const secret of ['BasicPw99', 'QueryPw1', 'Sentinel-Pw5']) expect(issues.join('\n')).not.toContain(secret);
  });

  it('refuses plain TCP to a remote database and a Redis password value, never to loopback', () => {
    const config = exampleConfig() as { database: Record<string, unknown>; redis: Record<string, unknown> };
    const issues = issuesOf({
      ...config,
      database: { ...config.database, tls: { mode: 'disable' } },
      redis: { ...config.redis, auth: { username: 'canary', password: { value: 'redis-Pw-77' } } },
    });
    expect(issues).toEqual([
      'redis.auth.password must be a {"secretId": ...} reference in a deployment: a value would be written into the bundle',
      'database.tls.mode must not be "disable" in a deployment: the database is remote, and credentials and tenant rows would cross the network in clear (use verify-full with database.tls.caFile)',
    ]);
    expect(issues.join('\n')).not.toContain('redis-Pw-77');
    const loopback = issuesOf({
      ...config,
      database: { url: 'postgres://canary@127.0.0.1:5432/x', tls: { mode: 'disable' } },
    });
    expect(loopback).toEqual([]);
  });

  it('bundles every CA file beside the config and points the embedded config at it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'canary-ca-'));
    const pem = (name: string) => {
      const path = join(dir, `${name}.pem`);
      writeFileSync(path, `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`);
      return path;
    };
    const config = exampleConfig() as {
      platform: Record<string, unknown>;
      database: Record<string, unknown>;
      redis: Record<string, unknown>;
    };
    const parsed = parseDeploymentConfig({
      ...config,
      platform: { ...config.platform, caFile: pem('api') },
      database: { ...config.database, tls: { mode: 'verify-full', caFile: pem('rds') } },
      redis: { ...config.redis, url: 'rediss://cache.internal:6379/0', tls: { caFile: pem('cache') } },
    });
    expect(Object.keys(parsed.caFiles).sort()).toEqual([
      'canary-ca.pem',
      'canary-database-ca.pem',
      'canary-redis-ca.pem',
    ]);
    expect(parsed.caFiles['canary-database-ca.pem']).toContain('rds');
    const embedded = parsed.embedded as {
      platform: { caFile: string };
      database: { tls: { caFile: string; mode: string } };
      redis: { tls: { caFile: string } };
    };
    expect(embedded.platform.caFile).toBe('/var/task/canary-ca.pem');
    expect(embedded.database.tls).toEqual({ mode: 'verify-full', caFile: '/var/task/canary-database-ca.pem' });
    expect(embedded.redis.tls.caFile).toBe('/var/task/canary-redis-ca.pem');
    expect(() =>
      parseDeploymentConfig({ ...config, database: { ...config.database, tls: { caFile: join(dir, 'missing.pem') } } }),
    ).toThrow(/database\.tls\.caFile/);
  });

  it('refuses VPC endpoints without a NAT while the API is public, and endpoints without route tables', () => {
    const config = exampleConfig() as { deployment: { vpc: Record<string, unknown> } };
    const vpc = config.deployment.vpc;
    expect(
      issuesOf(withDeployment({ vpc: { ...vpc, egress: 'endpoints', routeTableIds: ['rtb-0a1b2c3d4e5f60718'] } })),
    ).toEqual([
      'deployment.vpc.egress must be "nat" while platform.baseUrl (api.ai-agents.example.com) is public: VPC endpoints reach AWS APIs only, so the webhook and health checks would time out',
    ]);
    expect(issuesOf(withDeployment({ vpc: { ...vpc, egress: 'endpoints' } }))).toEqual([
      expect.stringMatching(/^deployment\.vpc\.routeTableIds must list the subnets' route tables/),
    ]);
    const { securityGroupIds: _sg, ...noGroups } = vpc;
    expect(issuesOf(withDeployment({ vpc: noGroups }))).toEqual([
      "deployment.vpc.securityGroupIds must list the functions' security groups, or set createSecurityGroup: true",
    ]);
    expect(issuesOf(withDeployment({ vpc: { ...noGroups, createSecurityGroup: true } }))).toEqual([]);
    // A public name that starts like a private address is still public.
    const lookalike = exampleConfig() as { platform: Record<string, unknown> };
    expect(
      issuesOf({
        ...withDeployment({ vpc: { ...vpc, egress: 'endpoints', routeTableIds: ['rtb-0a1b2c3d4e5f60718'] } }),
        platform: { ...lookalike.platform, baseUrl: 'https://10.example.com' },
      }),
    ).toEqual([
      expect.stringMatching(/^deployment\.vpc\.egress must be "nat" while platform\.baseUrl \(10\.example\.com\)/),
    ]);
    // With an in-VPC address the webhooks need no NAT, the health checks on the public baseUrl still do.
    const endpoints = withDeployment({
      vpc: { ...vpc, egress: 'endpoints', routeTableIds: ['rtb-0a1b2c3d4e5f60718'] },
    });
    const withInternal = (internalBaseUrl: string) => ({
      ...endpoints,
      platform: { ...lookalike.platform, internalBaseUrl },
    });
    expect(issuesOf(withInternal('http://api.ai-agents.internal:8000'))).toEqual([
      'deployment.vpc.egress must be "nat" while platform.baseUrl (api.ai-agents.example.com) is public: VPC endpoints reach AWS APIs only, so api.health and api.tls_certificate (they stay on baseUrl) would time out',
    ]);
    expect(issuesOf(withInternal('https://api.example.org'))).toContain(
      'deployment.vpc.egress must be "nat" while platform.internalBaseUrl (api.example.org) is not a private address: VPC endpoints reach AWS APIs only, so the webhook checks would time out',
    );
  });

  it('refuses a fleet whose worst-case sweep cannot drain within the interval, naming the fields and the fix', () => {
    const probe = { batchSize: 10, maxConcurrency: 2, timeoutSeconds: 240, memoryMb: 1024, maxReceiveCount: 3 };
    // Without a database, scheduled probes wait for each round trip.
    const { database: _database, ...withoutDatabase } = withDeployment({ expectedTenants: 10_000, probe }) as Record<
      string,
      unknown
    >;
    const [issue] = issuesOf(withoutDatabase);
    expect(issue).toMatch(
      /^deployment\.expectedTenants \(10000\) cannot be probed within one interval \(schedule\.rateMinutes 5 = 300 s\) in the worst case: 500 waves of probe\.batchSize \(10\) × probe\.maxConcurrency \(2\) tenants, each up to \d+ s, take \d+ s: raise deployment\.probe\.maxConcurrency to at least 1000, or add a database section/,
    );
    // With one, scheduled probes judge round trips deferred (run.roundTrip "wait" is for on-demand
    // runs): the same fleet drains with enough invocations, and the message names how many.
    const [tight] = issuesOf(withDeployment({ expectedTenants: 10_000, probe }));
    expect(tight).toMatch(
      /^deployment\.expectedTenants \(10000\) cannot be probed .* probe\.maxConcurrency \(2\) .*: raise deployment\.probe\.maxConcurrency to at least \d+$/,
    );
    const needed = Number(/at least (\d+)$/.exec(tight ?? '')?.[1]);
    expect(needed).toBeLessThan(1000);
    const drains = withDeployment({ expectedTenants: 10_000, probe: { ...probe, maxConcurrency: needed } });
    expect(issuesOf(withBudget(drains, 70))).toEqual([]);
  });

  it("refuses a request budget that cannot cover each tenant's webhook checks once per period, naming the budget needed", () => {
    const tenThousand = withDeployment({
      expectedTenants: 10_000,
      probe: { batchSize: 10, maxConcurrency: 200, timeoutSeconds: 240, memoryMb: 1024, maxReceiveCount: 3 },
    });
    const [issue] = issuesOf(tenThousand);
    expect(issue).toMatch(
      /^platform\.requestBudgetRps \(20\) cannot cover each of deployment\.expectedTenants \(10000\) tenants' 7 webhook requests once per synthetic\.acceptEveryMinutes \(60\) .*raise platform\.requestBudgetRps to at least (\d+)/,
    );
    const needed = Number(/at least (\d+)/.exec(issue ?? '')?.[1]);
    expect(issuesOf(withBudget(tenThousand, needed))).toEqual([]);
    // A budget whose second cannot hold one tenant's run (7 requests at once, half the budget a second).
    expect(issuesOf(withBudget(withDeployment({}), 13))).toEqual([
      expect.stringMatching(/^platform\.requestBudgetRps \(13\) cannot cover/),
    ]);
  });

  it('refuses a batch that cannot be probed within the function timeout (it would time out and be dead-lettered)', () => {
    const probe = { batchSize: 10, maxConcurrency: 10, timeoutSeconds: 240, memoryMb: 1024, maxReceiveCount: 3 };
    const config = { ...withDeployment({ probe }), run: { tenantConcurrency: 1 } };
    expect(issuesOf(config)).toEqual([
      expect.stringMatching(
        /^deployment\.probe\.batchSize \(10\) cannot be probed within probe\.timeoutSeconds \(240\) in the worst case: 10 rounds of run\.tenantConcurrency \(1\) tenants take up to \d+ s, .*lower probe\.batchSize, raise run\.tenantConcurrency, or raise probe\.timeoutSeconds$/,
      ),
    ]);
    expect(
      issuesOf({ ...withDeployment({ probe: { ...probe, batchSize: 4 } }), run: { tenantConcurrency: 1 } }),
    ).toEqual([]);
  });

  it('refuses a heartbeat URL without a NAT, and a self-watch section naming both a topic and subscriptions', () => {
    const config = exampleConfig() as {
      platform: Record<string, unknown>;
      deployment: { vpc: Record<string, unknown> };
    };
    expect(
      issuesOf({
        ...config,
        platform: { ...config.platform, baseUrl: 'https://api.platform.internal' },
        deployment: {
          ...config.deployment,
          vpc: { ...config.deployment.vpc, egress: 'endpoints', routeTableIds: ['rtb-0a1b2c3d4e5f60718'] },
          heartbeatUrl: 'https://hc-ping.com/0123',
        },
      }),
    ).toEqual([
      'deployment.vpc.egress must be "nat" with deployment.heartbeatUrl: the heartbeat service is outside AWS, which VPC endpoints do not reach',
    ]);
    expect(
      issuesOf(
        withDeployment({
          selfWatch: {
            topicArn: 'arn:aws:sns:us-east-1:210987654321:ops',
            subscriptions: [{ email: 'a@example.com' }],
          },
        }),
      ),
    ).toEqual([
      'deployment.selfWatch takes topicArn (an existing topic) or subscriptions (for the topic the stack creates), not both',
    ]);
    expect(issuesOf(withDeployment({ heartbeatUrl: 'http://hc-ping.com/0123' }))).toEqual([
      'deployment.heartbeatUrl must be an https:// URL',
    ]);
  });

  it('refuses more static tenant secrets than two IAM policies hold, and a database source without a tenant count', () => {
    const tenants = Array.from({ length: 51 }, (_, i) => ({
      tenantId: `tenant-${i}`,
      signingSecret: { secretId: `tenant-canary/tenants/tenant-${i}` },
    }));
    expect(issuesOf({ ...exampleConfig(), tenants })).toEqual([
      expect.stringMatching(
        /^tenants lists 51 signing secrets in Secrets Manager; a deployment takes at most 50 .*use tenantSource/,
      ),
    ]);
    const source: Record<string, unknown> = {
      ...exampleConfig(),
      tenants: [],
      tenantSource: {
        type: 'database',
        secretId: 'tenant-canary/tenant-source-db',
        encryptionKey: { secretId: 'tenant-canary/fernet-key' },
      },
    };
    expect(issuesOf(source)).toEqual([expect.stringMatching(/^deployment\.expectedTenants must be set/)]);
    expect(issuesOf({ ...source, deployment: { ...(source.deployment as object), expectedTenants: 800 } })).toEqual([
      expect.stringMatching(/^deployment\.expectedTenants \(800\) cannot be probed/),
    ]);
  });

  it('says which file is missing or not JSON', () => {
    expect(() => loadDeploymentConfig('/nonexistent/canary.json')).toThrow(
      'config /nonexistent/canary.json could not be read (ENOENT)',
    );
    expect(() => parseDeploymentConfig([])).toThrow('the config must be a JSON object');
  });
});
