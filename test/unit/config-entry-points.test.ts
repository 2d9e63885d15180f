/**
 * `platform.entryPoints` (CONTRACT.md "Signed entry points"): defaults, and one error naming the
 * field for each missing, empty or malformed value. Secret values never appear in an error.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/core/config.ts';

const RESOLVED = {
  name: 'resolved-ticket',
  path: '/webhook/servicedesk/resolved-ticket',
  signatureHeader: 'X-ServiceDesk-Signature',
  signatureFormat: 'sha256-prefixed',
  secret: { secretId: 'prod/platform-webhook-secret' },
  body: 'resolved-ticket',
  timestamped: false,
  sentBy: 'tenants',
};
const AGENT = {
  name: 'agent-triage',
  path: '/webhook/agents/3f1c/webhook',
  signatureHeader: 'X-Hub-Signature-256',
  secret: { secretId: 'prod/agent-triage-webhook' },
  body: { template: { event: 'canary', ticket_id: '{ticketId}' } },
  timestamped: false,
  replayable: true,
};

const withEntryPoints = (entryPoints: unknown) => ({
  platform: { baseUrl: 'https://api.example.com', entryPoints },
  tenants: [{ tenantId: 'acme-corp', signingSecret: { value: 'acme-secret' } }],
});

function issuesOf(entryPoints: unknown): readonly string[] {
  try {
    parseConfig(withEntryPoints(entryPoints));
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

describe('platform.entryPoints', () => {
  it("takes CONTRACT.md's example as written", () => {
    const config = parseConfig(withEntryPoints([RESOLVED, AGENT]));
    expect(config.platform.entryPoints).toEqual([
      { ...RESOLVED, replayable: false, acceptProbe: false, notProvenStatuses: [404, 405] },
      {
        ...AGENT,
        signatureFormat: 'sha256-prefixed',
        sentBy: 'tenants',
        acceptProbe: false,
        notProvenStatuses: [404, 405],
      },
    ]);
  });

  it("defaults to no entry points, and an entry point to the tenant's own secret, forgeries only", () => {
    expect(parseConfig(withEntryPoints(undefined)).platform.entryPoints).toEqual([]);
    const [entry] = parseConfig(withEntryPoints([{ name: 'x', path: '/x', signatureHeader: 'X-Sig', body: 'ticket' }]))
      .platform.entryPoints;
    expect(entry).toEqual({
      name: 'x',
      path: '/x',
      signatureHeader: 'X-Sig',
      signatureFormat: 'sha256-prefixed',
      secret: 'tenant',
      body: 'ticket',
      timestamped: false,
      replayable: false,
      sentBy: 'tenants',
      acceptProbe: false,
      notProvenStatuses: [404, 405],
    });
  });

  it('takes the statuses an entry point answers before its signature check (an agent webhook adds 403)', () => {
    const [entry] = parseConfig(withEntryPoints([{ ...AGENT, notProvenStatuses: [403, 404, 405] }])).platform
      .entryPoints;
    expect(entry?.notProvenStatuses).toEqual([403, 404, 405]);
    for (const bad of [[200], [403.5], ['403'], 403, [500]]) {
      expect(issuesOf([{ ...AGENT, notProvenStatuses: bad }])).toEqual([
        expect.stringMatching(
          /^platform\.entryPoints\[0\]\.notProvenStatuses(\[0\])? must be a (4xx status|list of 4xx statuses)/,
        ),
      ]);
    }
  });

  const cases: { name: string; change: Record<string, unknown>; expected: string }[] = [
    { name: 'missing name', change: { name: undefined }, expected: 'platform.entryPoints[1].name is required' },
    { name: 'empty name', change: { name: '' }, expected: 'platform.entryPoints[1].name must match' },
    { name: 'upper-case name', change: { name: 'Agent' }, expected: 'platform.entryPoints[1].name must match' },
    { name: 'missing path', change: { path: undefined }, expected: 'platform.entryPoints[1].path is required' },
    {
      name: 'relative path',
      change: { path: 'webhook/x' },
      expected: 'platform.entryPoints[1].path must be a path starting with /',
    },
    {
      name: 'path with another placeholder',
      change: { path: '/hooks/{agentId}/webhook' },
      expected: 'platform.entryPoints[1].path may hold only the placeholder {tenantId}, not {agentId}',
    },
    {
      name: 'missing signatureHeader',
      change: { signatureHeader: undefined },
      expected: 'platform.entryPoints[1].signatureHeader is required',
    },
    {
      name: 'signatureHeader with a space',
      change: { signatureHeader: 'X Sig' },
      expected: 'platform.entryPoints[1].signatureHeader must be an HTTP header name',
    },
    {
      name: 'unknown signatureFormat',
      change: { signatureFormat: 'base64' },
      expected: 'platform.entryPoints[1].signatureFormat must be "sha256-prefixed" or "hex"',
    },
    {
      name: 'secret of another word',
      change: { secret: 'shared' },
      expected: 'platform.entryPoints[1].secret must be "tenant"',
    },
    {
      name: 'secret as a bare string value',
      change: { secret: { value: '' } },
      expected: 'platform.entryPoints[1].secret',
    },
    { name: 'missing body', change: { body: undefined }, expected: 'platform.entryPoints[1].body must be' },
    { name: 'unknown body', change: { body: 'jira' }, expected: 'platform.entryPoints[1].body must be' },
    {
      name: 'template that is not an object',
      change: { body: { template: ['x'] } },
      expected: 'platform.entryPoints[1].body',
    },
    {
      name: 'template with an unknown placeholder',
      change: { body: { template: { id: '{ticketId}', agent: '{agentId}' } } },
      expected: 'platform.entryPoints[1].body.template has an unknown placeholder {agentId}',
    },
    {
      name: 'acceptProbe without the synthetic ticket id',
      change: { acceptProbe: true, body: { template: { event: 'canary' } } },
      expected: 'platform.entryPoints[1].body.template must carry {ticketId} when acceptProbe is true',
    },
    {
      name: 'timestamped without {createdAt}',
      change: { timestamped: true },
      expected: 'platform.entryPoints[1].body.template must carry {createdAt} when timestamped is true',
    },
    {
      name: 'timestamped as text',
      change: { timestamped: 'no' },
      expected: 'platform.entryPoints[1].timestamped must be true or false',
    },
    {
      name: 'replayable as a number',
      change: { replayable: 1 },
      expected: 'platform.entryPoints[1].replayable must be true or false',
    },
    {
      name: 'unknown sentBy',
      change: { sentBy: 'partners' },
      expected: 'platform.entryPoints[1].sentBy must be "tenants" or "platform"',
    },
    {
      name: 'acceptProbe as text',
      change: { acceptProbe: 'yes' },
      expected: 'platform.entryPoints[1].acceptProbe must be true or false',
    },
    { name: 'unknown field', change: { header: 'X' }, expected: 'platform.entryPoints[1] has unknown field "header"' },
    {
      name: 'duplicate name',
      change: { name: 'resolved-ticket' },
      expected: 'platform.entryPoints[1].name duplicates entry point "resolved-ticket"',
    },
  ];

  it.each(cases)('names the field for $name', ({ change, expected }) => {
    const issues = issuesOf([RESOLVED, { ...AGENT, ...change }]);
    expect(
      issues.filter((issue) => issue.startsWith(expected)),
      issues.join('\n'),
    ).toHaveLength(1);
  });

  it('refuses a list that is not a list, and more than 20 entry points', () => {
    expect(issuesOf('resolved-ticket')).toEqual([expect.stringMatching(/^platform\.entryPoints /)]);
    const many = Array.from({ length: 21 }, (_, i) => ({ ...AGENT, name: `agent-${i}` }));
    expect(issuesOf(many)).toEqual(['platform.entryPoints must list at most 20 entry points']);
  });

  it('never quotes a secret value in an error', () => {
    const issues = issuesOf([{ ...AGENT, secret: { value: 'hunter2-entry-point', extra: 1 } }]);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.join('\n')).not.toContain('hunter2');
  });
});
