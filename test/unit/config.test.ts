import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, parseConfigText } from '../../functions/core/config.ts';

const valid = () => ({
  platform: { baseUrl: 'https://api.example.com' },
  tenants: [
    { tenantId: 'acme-corp', signingSecret: { value: 'acme-secret-value' } },
    { tenantId: 'globex', signingSecret: { env: 'GLOBEX_SECRET' } },
    { tenantId: 'initech', signingSecret: { secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:x', jsonKey: 'k' } },
  ],
});

function issuesOf(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

function withPath(path: (string | number)[], value: unknown) {
  const config = valid() as Record<string, unknown>;
  let node = config as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string | number, unknown>;
  }
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return config;
}

describe('config', () => {
  it('fills the documented defaults', () => {
    const config = parseConfig(valid());
    expect(config.platform).toEqual({
      baseUrl: 'https://api.example.com',
      webhookPath: '/webhook/servicedesk',
      healthPath: '/health',
      signatureFormat: 'sha256-prefixed',
      caFile: null,
      internalBaseUrl: null,
      requestBudgetRps: 20,
      entryPoints: [],
    });
    expect(config.thresholds).toMatchObject({
      requestTimeoutMs: 5000,
      roundTripDegradedS: 30,
      roundTripTimeoutS: 120,
      queueDepthMax: 100,
      dbConnectionsMaxRatio: 0.95,
      successRateMin: 0.95,
      avgLatencyDegradedS: 20,
      p95LatencyDegradedS: 60,
      historyMinTickets: 50,
      enhancementMinChars: 1,
      staleTimestampAgeS: 600,
      certMinDays: 14,
    });
    expect(config.synthetic.ticketPrefix).toBe('SYNTH-');
    expect(config.synthetic.acceptEveryMinutes).toBe(60);
    expect(config.checks).toEqual({ disabled: [], tiers: {} });
  });

  it('fills database and redis defaults when those sections are present', () => {
    const config = parseConfig({
      ...valid(),
      database: { url: 'postgres://u:p@h/db' },
      redis: { url: 'redis://h:6379/0' },
    });
    expect(config.database).toMatchObject({
      appRole: 'aiagents',
      probeAsRole: null,
      tenantTables: ['tenant_configs', 'enhancement_history', 'ticket_history', 'system_inventory'],
      tenantSetting: 'app.current_tenant_id',
      contextFunction: 'set_tenant_context',
      enhancementTextColumn: 'llm_output',
    });
    expect(config.redis?.queueKeys).toEqual(['enhancement:queue', 'enhancement_queue']);
  });

  const cases: { name: string; path: (string | number)[]; value: unknown; expected: string }[] = [
    { name: 'missing platform', path: ['platform'], value: undefined, expected: 'platform is required' },
    {
      name: 'missing baseUrl',
      path: ['platform', 'baseUrl'],
      value: undefined,
      expected: 'platform.baseUrl is required',
    },
    {
      name: 'empty baseUrl',
      path: ['platform', 'baseUrl'],
      value: '',
      expected: 'platform.baseUrl must be an absolute http:// or https:// URL',
    },
    {
      name: 'ftp baseUrl',
      path: ['platform', 'baseUrl'],
      value: 'ftp://x',
      expected: 'platform.baseUrl must be an absolute http:// or https:// URL',
    },
    {
      name: 'numeric baseUrl',
      path: ['platform', 'baseUrl'],
      value: 42,
      expected: 'platform.baseUrl must be an http(s) URL (a string)',
    },
    {
      name: 'relative webhookPath',
      path: ['platform', 'webhookPath'],
      value: 'webhook',
      expected: 'platform.webhookPath must be a path starting with /',
    },
    {
      name: 'unknown signatureFormat',
      path: ['platform', 'signatureFormat'],
      value: 'base64',
      expected: 'platform.signatureFormat must be "sha256-prefixed" or "hex"',
    },
    { name: 'missing tenants', path: ['tenants'], value: undefined, expected: 'tenants is required' },
    { name: 'empty tenants', path: ['tenants'], value: [], expected: 'tenants must list at least one tenant' },
    { name: 'tenants not a list', path: ['tenants'], value: 'acme', expected: 'tenants ' },
    {
      name: 'tenant id with SQL',
      path: ['tenants', 0, 'tenantId'],
      value: "acme'; drop table x;--",
      expected: 'tenants[0].tenantId must match ^[a-z0-9-]{1,100}$',
    },
    {
      name: 'tenant id upper case',
      path: ['tenants', 1, 'tenantId'],
      value: 'Globex',
      expected: 'tenants[1].tenantId must match',
    },
    {
      name: 'tenant id too long',
      path: ['tenants', 0, 'tenantId'],
      value: 'a'.repeat(101),
      expected: 'tenants[0].tenantId must match',
    },
    {
      name: 'empty secret value',
      path: ['tenants', 0, 'signingSecret'],
      value: { value: '' },
      expected: 'tenants[0].signingSecret',
    },
    {
      name: 'secret of no known kind',
      path: ['tenants', 0, 'signingSecret'],
      value: { file: '/x' },
      expected: 'tenants[0].signingSecret',
    },
    {
      name: 'zero timeout',
      path: ['thresholds', 'requestTimeoutMs'],
      value: 0,
      expected: 'thresholds.requestTimeoutMs must be a positive integer',
    },
    {
      name: 'fractional queue depth',
      path: ['thresholds', 'queueDepthMax'],
      value: 1.5,
      expected: 'thresholds.queueDepthMax must be a positive integer',
    },
    {
      name: 'string threshold',
      path: ['thresholds', 'roundTripTimeoutS'],
      value: '120',
      expected: 'thresholds.roundTripTimeoutS must be a positive number',
    },
    {
      name: 'ratio above 1',
      path: ['thresholds', 'successRateMin'],
      value: 95,
      expected: 'thresholds.successRateMin must be a number greater than 0 and at most 1',
    },
    {
      name: 'unknown threshold',
      path: ['thresholds', 'queueDepthMaxx'],
      value: 5,
      expected: 'thresholds has unknown field "queueDepthMaxx"',
    },
    { name: 'unknown top-level field', path: ['tenant'], value: [], expected: '(config) has unknown field "tenant"' },
    {
      name: 'unknown disabled check',
      path: ['checks', 'disabled'],
      value: ['api.healthz'],
      expected: 'checks.disabled[0] must be a check id',
    },
    {
      name: 'unknown tier',
      path: ['checks', 'tiers'],
      value: { 'queue.depth': 'P5' },
      expected: 'checks.tiers.queue.depth must be one of P0, P1, P2, P3',
    },
    {
      name: 'database without url or secretId',
      path: ['database'],
      value: {},
      expected: 'database needs exactly one of "url" or "secretId"',
    },
    {
      name: 'database url not postgres',
      path: ['database'],
      value: { url: 'mysql://x' },
      expected: 'database.url must be a postgres:// or postgresql:// URL',
    },
    {
      name: 'table name with SQL',
      path: ['database'],
      value: { url: 'postgres://x', tenantTables: ['t; drop'] },
      expected: 'database.tenantTables[0] must be a plain SQL identifier',
    },
    {
      name: 'redis url not redis',
      path: ['redis'],
      value: { url: 'http://x' },
      expected: 'redis.url must be a redis:// or rediss:// URL',
    },
    {
      name: 'lower-case ticket prefix',
      path: ['synthetic', 'ticketPrefix'],
      value: 'synth-',
      expected: 'synthetic.ticketPrefix must match',
    },
    {
      name: 'relative internalBaseUrl',
      path: ['platform', 'internalBaseUrl'],
      value: 'internal-api:8000',
      expected: 'platform.internalBaseUrl must be an absolute http:// or https:// URL',
    },
    {
      name: 'numeric internalBaseUrl',
      path: ['platform', 'internalBaseUrl'],
      value: 8000,
      expected: 'platform.internalBaseUrl must be an http(s) URL',
    },
    {
      name: 'zero requestBudgetRps',
      path: ['platform', 'requestBudgetRps'],
      value: 0,
      expected: 'platform.requestBudgetRps must be a positive number',
    },
    {
      name: 'requestBudgetRps as text',
      path: ['platform', 'requestBudgetRps'],
      value: '20',
      expected: 'platform.requestBudgetRps must be a positive number',
    },
    {
      name: 'requestBudgetRps too high',
      path: ['platform', 'requestBudgetRps'],
      value: 20_000,
      expected: 'platform.requestBudgetRps must be a positive number of at most 10000',
    },
    {
      name: 'zero acceptEveryMinutes',
      path: ['synthetic', 'acceptEveryMinutes'],
      value: 0,
      expected: 'synthetic.acceptEveryMinutes must be a positive integer',
    },
    {
      name: 'fractional acceptEveryMinutes',
      path: ['synthetic', 'acceptEveryMinutes'],
      value: 7.5,
      expected: 'synthetic.acceptEveryMinutes must be a positive integer',
    },
    {
      name: 'acceptEveryMinutes as text',
      path: ['synthetic', 'acceptEveryMinutes'],
      value: '60',
      expected: 'synthetic.acceptEveryMinutes must be a positive integer',
    },
    {
      name: 'acceptEveryMinutes over a day',
      path: ['synthetic', 'acceptEveryMinutes'],
      value: 1441,
      expected: 'synthetic.acceptEveryMinutes must be a positive integer of at most 1440',
    },
  ];

  it.each(cases)('names the field for $name', ({ path, value, expected }) => {
    const issues = issuesOf(withPath(path, value));
    expect(issues.some((issue) => issue.startsWith(expected))).toBe(true);
  });

  it('collects every problem, not just the first', () => {
    const issues = issuesOf({
      platform: { baseUrl: 'nope' },
      tenants: [{ tenantId: 'BAD', signingSecret: { value: 'x' } }],
    });
    expect(issues).toHaveLength(2);
  });

  it('rejects a duplicated tenant', () => {
    const config = valid();
    config.tenants.push({ tenantId: 'acme-corp', signingSecret: { value: 'zzzz' } });
    expect(issuesOf(config)).toContain('tenants[3].tenantId duplicates tenant "acme-corp"');
  });

  it('rejects a degraded round-trip threshold above the timeout', () => {
    expect(issuesOf({ ...valid(), thresholds: { roundTripDegradedS: 200 } })).toContain(
      'thresholds.roundTripDegradedS must not exceed thresholds.roundTripTimeoutS',
    );
  });

  it('reports invalid JSON with a line and column, never quoting the text', () => {
    const text = '{\n  "tenants": [{"signingSecret": {"value": "hunter2-very-secret"}} oops]\n}';
    try {
      parseConfigText(text, 'canary.json');
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/^canary\.json is not valid JSON \(line 2, column \d+\)$/);
      expect(message).not.toContain('hunter2');
    }
  });

  it('never echoes a secret value in a validation error', () => {
    const config = withPath(['tenants', 0, 'signingSecret'], { value: 'hunter2-very-secret', extra: 1 });
    expect(issuesOf(config).join('\n')).not.toContain('hunter2');
  });
});
