/**
 * The deployment's config file: the canary config the CLI reads (functions/core/config.ts)
 * plus a `deployment` section for the stack. Validated once at synth; every problem names its
 * field. What the Lambdas get is the canary part only, with secrets as references: a deployed
 * config never carries a secret value (it would end up in the template or the bundle).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import * as z from 'zod';
import {
  type Config,
  ConfigError,
  formatIssue,
  formatPath,
  isLoopbackHost,
  parseConfig,
  parseJsonText,
  type SecretRef,
  snsTopicArn,
  unreadableFileError,
} from '../functions/core/config.ts';
import { type ConnectionUrlKind, credentialsInUrl } from '../functions/core/connection-url.ts';
import { scheduledProbeConfig } from '../functions/core/sweep-protocol.ts';
import { TIERS } from '../functions/core/types.ts';
import { estimateDrain } from './drain.ts';

const positiveInt = (what = 'a positive integer') =>
  z
    .number({ error: `must be ${what}` })
    .int({ error: `must be ${what}` })
    .positive({ error: `must be ${what}` });

const idList = (prefix: string, what: string) =>
  z
    .array(
      z.string({ error: `must be ${what} id (${prefix}...)` }).regex(new RegExp(`^${prefix}[0-9a-f]{8,17}$`), {
        error: `must be ${what} id such as ${prefix}0123456789abcdef0`,
      }),
      { error: `must be a list of ${what} ids` },
    )
    .min(1, { error: `must list at least one ${what} id` });

const subscriptionSchema = z.union(
  [
    z.strictObject({ email: z.email({ error: 'must be an email address' }) }),
    z.strictObject({
      https: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }),
      /** Deliver the JSON body as is (PagerDuty, Opsgenie and the like want it). @default true */
      rawMessageDelivery: z.boolean().default(true),
    }),
  ],
  { error: 'must be {"email": "..."} or {"https": "https://..."}' },
);
export type SubscriptionConfig = z.infer<typeof subscriptionSchema>;

const kmsKeyArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, { error: 'must be a KMS key ARN' });

/** The retentions CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export const deploymentSchema = z
  .strictObject({
    /** @default "TenantCanary" */
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, { error: 'must be a CloudFormation stack name' })
      .default('TenantCanary'),
    /** Where to deploy; omitted: the CLI's default account and region. */
    env: z
      .strictObject({
        account: z.string().regex(/^\d{12}$/, { error: 'must be a 12-digit AWS account id' }),
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'must be an AWS region such as eu-west-1' }),
      })
      .optional(),
    /** The platform's VPC: the functions reach its database, Redis and private endpoints from there. */
    vpc: z
      .strictObject({
        vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, { error: 'must be a VPC id such as vpc-0123456789abcdef0' }),
        subnetIds: idList('subnet-', 'a subnet'),
        securityGroupIds: idList('sg-', 'a security group').optional(),
        /**
         * How the functions reach AWS APIs and the API: `nat` (the subnets route to a NAT gateway,
         * which a public webhook endpoint needs), or `endpoints` (the stack creates interface
         * endpoints for SQS, SNS and Secrets Manager and a gateway endpoint for DynamoDB).
         */
        egress: z.enum(['nat', 'endpoints'], { error: 'must be "nat" or "endpoints"' }).default('nat'),
        /** The subnets' route tables: the DynamoDB gateway endpoint is added to them (egress "endpoints"). */
        routeTableIds: idList('rtb-', 'a route table').optional(),
        /** Create the functions' own security group with explicit egress (443, the database and Redis ports), and output it. */
        createSecurityGroup: z.boolean({ error: 'must be true or false' }).default(false),
      })
      .refine((vpc) => vpc.createSecurityGroup || vpc.securityGroupIds !== undefined, {
        error: "must list the functions' security groups, or set createSecurityGroup: true",
        path: ['securityGroupIds'],
      })
      .refine((vpc) => vpc.egress !== 'endpoints' || vpc.routeTableIds !== undefined, {
        error:
          'must list the subnets\' route tables when egress is "endpoints" (the DynamoDB gateway endpoint goes there)',
        path: ['routeTableIds'],
      })
      .optional(),
    /** Who hears each tier. */
    subscriptions: z
      .strictObject({
        P0: z.array(subscriptionSchema).default([]),
        P1: z.array(subscriptionSchema).default([]),
        P2: z.array(subscriptionSchema).default([]),
        P3: z.array(subscriptionSchema).default([]),
      })
      .default({ P0: [], P1: [], P2: [], P3: [] }),
    schedule: z
      .strictObject({
        /** @default 5 */
        rateMinutes: positiveInt().max(60, { error: 'must be at most 60' }).default(5),
        /** Retries of a failed sweep invocation. @default 2 */
        retryAttempts: z.number().int().min(0).max(185, { error: 'must be an integer from 0 to 185' }).default(2),
        /** How long a sweep may wait to be delivered; shorter than the interval, so sweeps never pile up. @default 4 */
        maxEventAgeMinutes: positiveInt().default(4),
      })
      .default({ rateMinutes: 5, retryAttempts: 2, maxEventAgeMinutes: 4 }),
    sweep: z
      .strictObject({
        /** @default 120 */
        timeoutSeconds: positiveInt().max(900, { error: 'must be at most 900' }).default(120),
        /** @default 512 */
        memoryMb: positiveInt().min(128).max(10240).default(512),
        /** Concurrent sweeps allowed (reserved concurrency); null leaves the sweep unreserved. @default 1 */
        reservedConcurrency: positiveInt().max(10, { error: 'must be at most 10, or null' }).nullable().default(1),
      })
      .default({ timeoutSeconds: 120, memoryMb: 512, reservedConcurrency: 1 }),
    probe: z
      .strictObject({
        /** Tenants per invocation, probed concurrently. @default 10 */
        batchSize: positiveInt().max(10, { error: 'must be at most 10' }).default(10),
        /** Invocations at once from the queue. @default 10 */
        maxConcurrency: z
          .number({ error: 'must be an integer from 2 to 1000' })
          .int({ error: 'must be an integer from 2 to 1000' })
          .min(2, { error: 'must be an integer from 2 to 1000' })
          .max(1000, { error: 'must be an integer from 2 to 1000' })
          .default(10),
        /** @default 240 */
        timeoutSeconds: positiveInt().max(900, { error: 'must be at most 900' }).default(240),
        /** @default 1024 */
        memoryMb: positiveInt().min(128).max(10240).default(1024),
        /** Deliveries of a message before it goes to the dead-letter queue. @default 3 */
        maxReceiveCount: positiveInt().max(10, { error: 'must be at most 10' }).default(3),
        /**
         * Seconds before a record the probe could not probe is delivered again (instead of the
         * queue's visibility timeout, six times the function's), so its retries and the
         * dead-letter queue come inside its sweep. @default 30
         */
        retryDelaySeconds: positiveInt().max(300, { error: 'must be at most 300' }).default(30),
      })
      .default({
        batchSize: 10,
        maxConcurrency: 10,
        timeoutSeconds: 240,
        memoryMb: 1024,
        maxReceiveCount: 3,
        retryDelaySeconds: 30,
      }),
    /** @default 30 */
    logRetentionDays: z
      .number({ error: 'must be a number of days' })
      .refine((days) => LOG_RETENTION_DAYS.includes(days), {
        error: `must be a CloudWatch Logs retention: one of ${LOG_RETENTION_DAYS.join(', ')} days`,
      })
      .default(30),
    /**
     * Ship source maps in the functions' assets and turn on `--enable-source-maps` (stack traces
     * name source files). Off by default: the map is as big as the bundle and every cold start
     * reads it. @default false
     */
    sourceMaps: z.boolean({ error: 'must be true or false' }).default(false),
    alarms: z
      .strictObject({
        /** Missing heartbeats, in sweep intervals, before "the canary stopped" fires. @default 3 */
        heartbeatMissedSweeps: positiveInt().max(24, { error: 'must be at most 24' }).default(3),
        /** Messages in the dead-letter queue that alarm. @default 1 */
        dlqDepth: positiveInt().default(1),
        /** The severity the canary's own alarms are labelled with (the heartbeat's is always P1). @default "P2" */
        tier: z.enum(TIERS, { error: 'must be one of P0, P1, P2, P3' }).default('P2'),
      })
      .default({ heartbeatMissedSweeps: 3, dlqDepth: 1, tier: 'P2' }),
    /**
     * Where the canary's own alarms go: a topic of their own, so a broken alert path still
     * reaches someone. `topicArn`: an existing topic (another account or a shared ops topic; its
     * policy must let CloudWatch publish); else the stack creates one with `subscriptions`
     * (default: those of P0 and P1).
     */
    selfWatch: z
      .strictObject({
        topicArn: snsTopicArn.optional(),
        subscriptions: z.array(subscriptionSchema).optional(),
        /**
         * Where the canary's own runbook (docs/operations.md) is published: each alarm's description
         * ends with the link to its section. @default the path in the tenant-canary repository
         */
        runbookUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s):// URL' }).optional(),
      })
      .refine((value) => value.topicArn === undefined || value.subscriptions === undefined, {
        error: 'takes topicArn (an existing topic) or subscriptions (for the topic the stack creates), not both',
      })
      .default({}),
    /**
     * A dead-man's switch outside AWS (healthchecks.io, Cronitor, Better Stack): pinged with a GET
     * after each judged sweep; its service alerts when the pings stop (a dead account or region
     * too). A URL, or a Secrets Manager reference when the URL is itself the credential.
     */
    heartbeatUrl: z
      .union([
        z.url({ protocol: /^https$/, error: 'must be an https:// URL' }),
        z.strictObject({ secretId: z.string().min(1), jsonKey: z.string().min(1).optional() }),
      ])
      .optional(),
    /** Customer-managed KMS keys of the secrets, if any (the functions get kms:Decrypt on them). */
    secretsKmsKeyArns: z.array(kmsKeyArn).default([]),
    /** Stop the sweeps (the schedule is disabled) and mute the heartbeat alarm, e.g. for a maintenance window. */
    paused: z.boolean({ error: 'must be true or false' }).default(false),
    /** Tags on every resource, besides `service: tenant-canary` (e.g. environment, owner). */
    tags: z
      .record(
        z
          .string()
          .regex(/^[\w .:/=+@-]{1,128}$/, { error: 'must be a tag key (1-128 letters, digits, spaces, _.:/=+-@)' }),
        z.string().regex(/^[\w .:/=+@-]{0,256}$/, {
          error: 'must be a tag value (at most 256 letters, digits, spaces, _.:/=+-@)',
        }),
      )
      .default({}),
    /** How many tenants to plan for (the drain check); default: the config's static tenants. */
    expectedTenants: positiveInt().max(100_000, { error: 'must be at most 100000' }).optional(),
    onDemand: z
      .strictObject({
        /** Whether a Function URL caller may pass `publish: true` (and so page on call). @default false */
        allowUrlPublish: z.boolean({ error: 'must be true or false' }).default(false),
      })
      .default({ allowUrlPublish: false }),
    /** IAM roles (full ARNs) allowed to invoke the probe's Function URL (`tenant-canary invoke --url`). @default none */
    operatorRoleArns: z
      .array(
        z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, {
          error: 'must be an IAM role ARN, such as arn:aws:iam::123456789012:role/oncall',
        }),
      )
      .default([]),
  })
  .superRefine((d, ctx) => {
    if (d.schedule.maxEventAgeMinutes >= d.schedule.rateMinutes) {
      ctx.addIssue({
        code: 'custom',
        path: ['schedule', 'maxEventAgeMinutes'],
        message: `must be shorter than schedule.rateMinutes (${d.schedule.rateMinutes}) so late sweeps never pile up`,
      });
    }
    if (d.probe.maxReceiveCount * d.probe.retryDelaySeconds >= d.schedule.rateMinutes * 60) {
      ctx.addIssue({
        code: 'custom',
        path: ['probe', 'retryDelaySeconds'],
        message: `times probe.maxReceiveCount (${d.probe.maxReceiveCount}) must be shorter than the sweep interval (${d.schedule.rateMinutes * 60} s): a tenant that cannot be probed must reach the dead-letter queue while its sweep is drained`,
      });
    }
    if (d.sweep.timeoutSeconds >= d.schedule.rateMinutes * 60) {
      ctx.addIssue({
        code: 'custom',
        path: ['sweep', 'timeoutSeconds'],
        message: `must be shorter than the sweep interval (${d.schedule.rateMinutes * 60} s)`,
      });
    }
  });
export type DeploymentSettings = z.infer<typeof deploymentSchema>;

/** A validated deployment: the canary's config, the stack's settings, and what to embed. */
export interface DeploymentConfig {
  canary: Config;
  deployment: DeploymentSettings;
  /** Secrets Manager ids the sweep reads (tenants, database, tenant source, Redis). */
  secretIds: string[];
  /** The same without the Redis password: the probe never opens Redis (the sweep's platform checks do). */
  probeSecretIds: string[];
  /** The canary config as bundled with the functions (each `caFile` pointing into the bundle). */
  embedded: Record<string, unknown>;
  /** The CA bundles to ship beside the config: file name in the bundle → PEM text. */
  caFiles: Record<string, string>;
}

/** Where each configured CA bundle sits inside the function bundle (`/var/task/<name>`). */
export const BUNDLED_CA_FILES = {
  platform: 'canary-ca.pem',
  database: 'canary-database-ca.pem',
  tenantSource: 'canary-tenant-source-ca.pem',
  redis: 'canary-redis-ca.pem',
} as const;

/** Validates a parsed config file. Throws {@link ConfigError} listing every problem with its field. */
export function parseDeploymentConfig(input: unknown, source = 'the config'): DeploymentConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError([`${source} must be a JSON object`]);
  }
  const { deployment: rawDeployment, ...rawCanary } = input as Record<string, unknown>;
  const issues: string[] = [];
  let canary: Config | undefined;
  try {
    canary = parseConfig(rawCanary);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.issues);
  }
  const deployment = deploymentSchema.safeParse(rawDeployment ?? {}, { reportInput: true });
  if (!deployment.success) {
    for (const issue of deployment.error.issues) {
      issues.push(formatIssue(issue, formatPath(['deployment', ...issue.path])));
    }
  }
  if (canary !== undefined) issues.push(...deployedCanaryIssues(canary));
  if (canary !== undefined && deployment.success) issues.push(...timingIssues(canary, deployment.data));
  if (canary !== undefined && deployment.success) issues.push(...egressIssues(canary, deployment.data));
  if (canary !== undefined && deployment.success) issues.push(...scaleIssues(canary, deployment.data));
  if (issues.length > 0 || canary === undefined || !deployment.success) throw new ConfigError(issues);

  const caFiles: Record<string, string> = {};
  /** Reads the PEM at `path` (field `field`) into the bundle as `name`; returns its path in the bundle. */
  const bundle = (field: string, path: string | null, name: string): string | null => {
    if (path === null) return null;
    try {
      caFiles[name] = readFileSync(path, 'utf8');
    } catch (error) {
      throw unreadableFileError(field, error, { path });
    }
    return `/var/task/${name}`;
  };
  const embedded: Record<string, unknown> = {
    ...canary,
    // The sweep's drain deadline and deferred round trips look back over the real interval.
    run: { ...canary.run, sweepIntervalS: deployment.data.schedule.rateMinutes * 60 },
    platform: {
      ...canary.platform,
      caFile: bundle('platform.caFile', canary.platform.caFile, BUNDLED_CA_FILES.platform),
    },
    ...(canary.database === undefined
      ? {}
      : {
          database: {
            ...canary.database,
            tls: {
              ...canary.database.tls,
              caFile: bundle('database.tls.caFile', canary.database.tls.caFile, BUNDLED_CA_FILES.database),
            },
          },
        }),
    ...(canary.tenantSource.type !== 'database'
      ? {}
      : {
          tenantSource: {
            ...canary.tenantSource,
            tls: {
              ...canary.tenantSource.tls,
              caFile: bundle('tenantSource.tls.caFile', canary.tenantSource.tls.caFile, BUNDLED_CA_FILES.tenantSource),
            },
          },
        }),
    ...(canary.redis === undefined
      ? {}
      : {
          redis: {
            ...canary.redis,
            tls: { caFile: bundle('redis.tls.caFile', canary.redis.tls.caFile, BUNDLED_CA_FILES.redis) },
          },
        }),
  };
  return {
    canary,
    deployment: deployment.data,
    secretIds: secretIdsOf(canary, { redis: true }),
    probeSecretIds: secretIdsOf(canary, { redis: false }),
    embedded,
    caFiles,
  };
}

export function loadDeploymentConfig(path: string): DeploymentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw unreadableFileError(`config ${path}`, error);
  }
  return parseDeploymentConfig(parseJsonText(text, `config ${path}`), `config ${path}`);
}

/** What a deployed canary cannot use: secret values, passwords in URLs, topics it creates itself. */
function deployedCanaryIssues(config: Config): string[] {
  const issues: string[] = [];
  const refIssue = (path: string, ref: SecretRef) => {
    if ('value' in ref) {
      issues.push(
        `${path} must be a {"secretId": ...} reference in a deployment: a value would be written into the bundle`,
      );
    } else if ('env' in ref) {
      issues.push(`${path} must be a {"secretId": ...} reference in a deployment: the functions have no ${ref.env}`);
    }
  };
  config.tenants.forEach((tenant, index) => {
    refIssue(`tenants[${index}].signingSecret`, tenant.signingSecret);
  });
  config.platform.entryPoints.forEach((entry, index) => {
    if (entry.secret !== 'tenant') refIssue(`platform.entryPoints[${index}].secret`, entry.secret);
  });
  const base = new URL(config.platform.baseUrl);
  if (base.username !== '' || base.password !== '') {
    issues.push('platform.baseUrl must not contain credentials in a deployment (it would be written into the bundle)');
  }
  if (config.database?.url !== undefined && hasPassword(config.database.url, 'postgres')) {
    issues.push('database.url must not contain a password (nor be unparsable) in a deployment: use database.secretId');
  }
  if (config.redis !== undefined && hasPassword(config.redis.url, 'redis')) {
    issues.push(
      'redis.url must not contain credentials (nor be unparsable) in a deployment: they would be written into the bundle',
    );
  }
  if (config.tenantSource.type === 'database') {
    if (config.tenantSource.url !== undefined && hasPassword(config.tenantSource.url, 'postgres')) {
      issues.push('tenantSource.url must not contain a password in a deployment: use tenantSource.secretId');
    }
    refIssue('tenantSource.encryptionKey', config.tenantSource.encryptionKey);
  }
  if (config.redis?.auth !== undefined) {
    refIssue('redis.auth.password', config.redis.auth.password);
    if (!config.redis.url.startsWith('rediss://')) {
      issues.push(
        'redis.url must be rediss:// (TLS) when redis.auth is set in a deployment: the password would cross the network in clear',
      );
    }
  }
  if (config.alerts.pagerduty !== undefined) {
    refIssue('alerts.pagerduty.routingKey', config.alerts.pagerduty.routingKey);
  }
  const plainTcp = (field: string, tls: { mode?: string }, url: string | undefined) => {
    if (tls.mode !== 'disable') return;
    const host = url === undefined ? undefined : hostOf(url);
    if (host !== undefined && isLoopbackHost(host)) return;
    issues.push(
      `${field}.tls.mode must not be "disable" in a deployment: the database is remote, and credentials and tenant rows would cross the network in clear (use verify-full with ${field}.tls.caFile)`,
    );
  };
  if (config.database !== undefined) plainTcp('database', config.database.tls, config.database.url);
  if (config.tenantSource.type === 'database') {
    plainTcp('tenantSource', config.tenantSource.tls, config.tenantSource.url);
  }
  if (config.alerts.topics !== undefined) {
    issues.push('alerts.topics must be left out in a deployment: the stack creates one topic per tier');
  }
  return issues;
}

/**
 * Static tenant secrets each become an ARN in two roles' inline policies (10,240 characters per
 * role) and a secret of their own ($0.40 a month): past this many, the database tenant source.
 */
export const MAX_STATIC_TENANT_SECRETS = 50;

/** A fleet the deployment cannot carry: too many static secrets, or a sweep that cannot drain in an interval. */
function scaleIssues(config: Config, deployment: DeploymentSettings): string[] {
  const issues: string[] = [];
  const secretRefs = config.tenants.filter((tenant) => 'secretId' in tenant.signingSecret).length;
  if (config.tenantSource.type === 'static' && secretRefs > MAX_STATIC_TENANT_SECRETS) {
    issues.push(
      `tenants lists ${secretRefs} signing secrets in Secrets Manager; a deployment takes at most ${MAX_STATIC_TENANT_SECRETS} (each is an ARN in two IAM policies and a secret of its own): use tenantSource {"type": "database"}, which reads them from tenant_configs`,
    );
  }
  const tenants =
    deployment.expectedTenants ?? (config.tenantSource.type === 'database' ? undefined : config.tenants.length);
  if (tenants === undefined) {
    issues.push(
      'deployment.expectedTenants must be set when tenants come from tenantSource: the synth checks a sweep of that many drains within the interval',
    );
    return issues;
  }
  const intervalS = deployment.schedule.rateMinutes * 60;
  // Scheduled probes run as the probe function runs them: deferred round trips when there is a database.
  const scheduled = scheduledProbeConfig(config);
  const drain = estimateDrain(scheduled, deployment.probe, tenants, intervalS);
  if (drain.batchUncappedS > deployment.probe.timeoutSeconds) {
    const rounds = Math.ceil(deployment.probe.batchSize / config.run.tenantConcurrency);
    issues.push(
      `deployment.probe.batchSize (${deployment.probe.batchSize}) cannot be probed within probe.timeoutSeconds (${deployment.probe.timeoutSeconds}) in the worst case: ${rounds} rounds of run.tenantConcurrency (${config.run.tenantConcurrency}) tenants take up to ${drain.batchUncappedS} s, so the invocation would time out and its tenants end in the dead-letter queue: lower probe.batchSize, raise run.tenantConcurrency, or raise probe.timeoutSeconds`,
    );
  }
  if (drain.drainS > intervalS) {
    const fix =
      drain.neededConcurrency !== null && drain.neededConcurrency <= 1000
        ? `raise deployment.probe.maxConcurrency to at least ${drain.neededConcurrency}`
        : 'raise deployment.schedule.rateMinutes';
    const deferred =
      scheduled.run.roundTrip === 'wait'
        ? ', or add a database section (scheduled probes then judge round trips deferred, without waiting)'
        : '';
    issues.push(
      `deployment.expectedTenants (${tenants}) cannot be probed within one interval (schedule.rateMinutes ${deployment.schedule.rateMinutes} = ${intervalS} s) in the worst case: ${drain.waves} waves of probe.batchSize (${deployment.probe.batchSize}) × probe.maxConcurrency (${deployment.probe.maxConcurrency}) tenants, each up to ${drain.batchWorstS} s, take ${drain.drainS} s: ${fix}${deferred}`,
    );
  }
  const { budget } = drain;
  if (budget.rotation === null) {
    issues.push(
      `platform.requestBudgetRps (${budget.budgetRps}) cannot cover each of deployment.expectedTenants (${tenants}) tenants' ${budget.requestsPerTenantRun} webhook requests once per synthetic.acceptEveryMinutes (${config.synthetic.acceptEveryMinutes}) with sweeps every ${intervalS} s (a tenant's run sends them at once, each second of the plan holds half the budget): raise platform.requestBudgetRps to at least ${budget.neededBudgetRps} (the platform's ingress allows 100), raise synthetic.acceptEveryMinutes, or disable checks`,
    );
  }
  return issues;
}

/** Host names that only resolve inside a network: reachable through VPC endpoints without a NAT. */
const PRIVATE_SUFFIXES = [
  '.internal',
  '.local',
  '.localdomain',
  '.lan',
  '.corp',
  '.intranet',
  '.private',
  '.home.arpa',
];

/** Whether a URL's host is private: an RFC 1918 / loopback / link-local address, or a private DNS suffix. */
export function isPrivateHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(bare) === 4) return /^(10\.|192\.168\.|127\.|169\.254\.|172\.(1[6-9]|2\d|3[01])\.)/.test(bare);
  if (isIP(bare) === 6) return /^(fc|fd)[0-9a-f]{2}:/.test(bare) || bare === '::1';
  return PRIVATE_SUFFIXES.some((suffix) => bare.endsWith(suffix));
}

/** Without a NAT the functions reach only the VPC: a public API would be unreachable from them. */
function egressIssues(config: Config, deployment: DeploymentSettings): string[] {
  if (deployment.vpc?.egress !== 'endpoints') return [];
  const issues: string[] = [];
  const host = new URL(config.platform.baseUrl).hostname;
  const internal = config.platform.internalBaseUrl === null ? null : new URL(config.platform.internalBaseUrl).hostname;
  if (!isPrivateHost(host)) {
    const checks =
      internal === null ? 'the webhook and health checks' : 'api.health and api.tls_certificate (they stay on baseUrl)';
    issues.push(
      `deployment.vpc.egress must be "nat" while platform.baseUrl (${host}) is public: VPC endpoints reach AWS APIs only, so ${checks} would time out`,
    );
  }
  if (internal !== null && !isPrivateHost(internal)) {
    issues.push(
      `deployment.vpc.egress must be "nat" while platform.internalBaseUrl (${internal}) is not a private address: VPC endpoints reach AWS APIs only, so the webhook checks would time out`,
    );
  }
  if (deployment.heartbeatUrl !== undefined) {
    issues.push(
      'deployment.vpc.egress must be "nat" with deployment.heartbeatUrl: the heartbeat service is outside AWS, which VPC endpoints do not reach',
    );
  }
  return issues;
}

/** Seconds a probe needs besides waiting for the round trip (the other checks, alerting). */
const PROBE_MARGIN_S = 30;

/**
 * The canary's timing must fit the deployment's: an on-demand run waits for its round trip in the
 * probe function (scheduled probes do not: they judge round trips deferred when there is a database).
 */
function timingIssues(config: Config, deployment: DeploymentSettings): string[] {
  const issues: string[] = [];
  if (deployment.probe.timeoutSeconds < config.thresholds.roundTripTimeoutS + PROBE_MARGIN_S) {
    issues.push(
      `deployment.probe.timeoutSeconds must be at least thresholds.roundTripTimeoutS + ${PROBE_MARGIN_S} (${config.thresholds.roundTripTimeoutS + PROBE_MARGIN_S}): an on-demand probe waits for the round trip`,
    );
  }
  return issues;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/**
 * Whether a connection URL could carry a credential into the bundle, read as pg and ioredis read
 * it (core/connection-url.ts): a password in the userinfo, a password query parameter, or a URL
 * the drivers would read otherwise than it looks (`canary:2024#S3cret@db`: an `@` after the host)
 * or that does not parse at all (the drivers may still find a password in it).
 */
function hasPassword(url: string, kind: ConnectionUrlKind): boolean {
  return credentialsInUrl(url, kind).length > 0;
}

function secretIdsOf(config: Config, include: { redis: boolean }): string[] {
  const ids = new Set<string>();
  const add = (ref: SecretRef) => {
    if ('secretId' in ref) ids.add(ref.secretId);
  };
  for (const tenant of config.tenants) add(tenant.signingSecret);
  for (const entry of config.platform.entryPoints) if (entry.secret !== 'tenant') add(entry.secret);
  if (config.database?.secretId !== undefined) ids.add(config.database.secretId);
  if (config.tenantSource.type === 'database') {
    if (config.tenantSource.secretId !== undefined) ids.add(config.tenantSource.secretId);
    add(config.tenantSource.encryptionKey);
  }
  if (include.redis && config.redis?.auth !== undefined) add(config.redis.auth.password);
  return [...ids].sort();
}
