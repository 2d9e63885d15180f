/**
 * A deployment with signed entry points: the shared secret is read from Secrets Manager (the
 * functions may read it), never a value in the bundle; the budget check at synth counts the
 * entry points' requests.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/config.ts';
import { parseDeploymentConfig } from '../../lib/config.ts';
import { platformExampleConfig } from './support.ts';

const withEntryPoints = (entryPoints: unknown[], platform: Record<string, unknown> = {}) => {
  const config = platformExampleConfig();
  return { ...config, platform: { ...(config.platform as object), ...platform, entryPoints } };
};
const agent = (secret: unknown) => ({
  name: 'agent-triage',
  path: '/webhook/agents/3f1c/webhook',
  signatureHeader: 'X-Hub-Signature-256',
  secret,
  body: { template: { ticket_id: '{ticketId}' } },
});
const issuesOf = (input: unknown): readonly string[] => {
  try {
    parseDeploymentConfig(input);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
};

describe('entry points in a deployment', () => {
  it("lets the functions read the resolved-ticket entry point's shared secret", () => {
    expect(parseDeploymentConfig(platformExampleConfig()).secretIds).toContain('tenant-canary/platform-webhook-secret');
  });

  it('refuses a secret value or an environment variable, naming the field', () => {
    expect(issuesOf(withEntryPoints([agent({ value: 'hunter2-agent' })]))).toContain(
      'platform.entryPoints[0].secret must be a {"secretId": ...} reference in a deployment: a value would be written into the bundle',
    );
    expect(issuesOf(withEntryPoints([agent({ env: 'AGENT_SECRET' })]))).toContain(
      'platform.entryPoints[0].secret must be a {"secretId": ...} reference in a deployment: the functions have no AGENT_SECRET',
    );
  });

  it("refuses a budget that cannot cover a tenant run's entry-point requests, naming the budget needed", () => {
    const resolved = (platformExampleConfig().platform as { entryPoints: unknown[] }).entryPoints[0];
    const issues = issuesOf(withEntryPoints([resolved, agent({ secretId: 'prod/agent' })]));
    expect(issues).toEqual([
      expect.stringMatching(
        /^platform\.requestBudgetRps \(20\) cannot cover .* tenants' 13 webhook requests once per .*raise platform\.requestBudgetRps to at least \d+/,
      ),
    ]);
    expect(issuesOf(withEntryPoints([resolved, agent({ secretId: 'prod/agent' })], { requestBudgetRps: 30 }))).toEqual(
      [],
    );
  });
});
