/**
 * Policies judged by what they read (policy-reads.ts): directly, through SQL and plpgsql helpers
 * to a bounded depth, through a subquery over a tenant table under RLS for a foreign-key child,
 * and "undecided" (for the live probe) where the text cannot tell.
 */
import { describe, expect, it } from 'vitest';
import type { HelperFunction, PolicyFacts } from '../../functions/probes/database.ts';
import {
  MAX_HELPER_DEPTH,
  openPolicies,
  policyReading,
  readsSetting,
  tableReading,
} from '../../functions/probes/policy-reads.ts';
import { tableFacts } from '../support/table-facts.ts';

const SETTING = 'app.current_tenant_id';

function fn(oid: string, proname: string, body: string, language = 'sql', schema = ''): HelperFunction {
  return { oid, name: schema === '' ? proname : `${schema}.${proname}`, proname, language, body, dependsOn: [] };
}

const table = tableFacts;

const policy = (
  using: string | null,
  functions: string[] = [],
  relations: string[] = [],
  scope: Partial<Pick<PolicyFacts, 'name' | 'permissive' | 'command' | 'roles' | 'appliesToApp'>> = {},
): PolicyFacts => ({
  name: 'p',
  permissive: true,
  command: '*',
  roles: ['PUBLIC'],
  appliesToApp: true,
  ...scope,
  using,
  withCheck: null,
  functions,
  relations,
});

describe('readsSetting', () => {
  it('finds the setting as pg_get_expr prints it, and as bodies write it', () => {
    expect(readsSetting(`(tenant_id = current_setting('${SETTING}'::text, true))`, SETTING)).toBe(true);
    expect(readsSetting(`SELECT current_setting( '${SETTING}' )`, SETTING)).toBe(true);
    expect(readsSetting(`current_setting('app.other')`, SETTING)).toBe(false);
    expect(readsSetting(`current_setting('appXcurrent_tenant_id')`, SETTING)).toBe(false);
    expect(readsSetting(null, SETTING)).toBe(false);
  });
});

describe('policyReading', () => {
  const getTenant = fn('1', 'get_tenant', `SELECT current_setting('${SETTING}', true)`);
  const currentTenant = fn('2', 'current_tenant_id', 'BEGIN RETURN app.get_tenant()::uuid; END;', 'plpgsql', 'app');

  it('reads directly', () => {
    expect(policyReading(policy(`tenant_id = current_setting('${SETTING}')`), [], SETTING)).toEqual({
      reads: true,
      via: 'expression',
    });
  });

  it('reads through an SQL helper (USING (tenant_id::text = get_tenant()))', () => {
    expect(policyReading(policy('((tenant_id)::text = get_tenant())', ['1']), [getTenant], SETTING)).toEqual({
      reads: true,
      via: 'function',
      chain: ['get_tenant'],
    });
  });

  it('reads through a plpgsql helper that calls another (app.current_tenant_id() → get_tenant())', () => {
    const helpers = [getTenant, currentTenant];
    expect(policyReading(policy('(tenant_id = app.current_tenant_id())', ['2']), helpers, SETTING)).toEqual({
      reads: true,
      via: 'function',
      chain: ['app.current_tenant_id', 'get_tenant'],
    });
  });

  it('does not read through a helper reading another setting', () => {
    const other = fn('3', 'current_user_id', `SELECT current_setting('app.user_id', true)`);
    expect(policyReading(policy('(owner_id = current_user_id())', ['3']), [other], SETTING)).toEqual({ reads: false });
  });

  it('is undecided for a helper in another language, or a setting name built at run time', () => {
    const c = fn('4', 'tenant_from_jwt', 'tenant_from_jwt', 'c');
    expect(policyReading(policy('(tenant_id = tenant_from_jwt())', ['4']), [c], SETTING).reads).toBe('undecided');
    const dynamic = fn(
      '5',
      'tenant_guc',
      "DECLARE k text := 'app.' || 'x'; BEGIN RETURN current_setting(k, true); END;",
      'plpgsql',
    );
    expect(policyReading(policy('(tenant_id = tenant_guc())', ['5']), [dynamic], SETTING).reads).toBe('undecided');
  });

  it(`follows at most ${MAX_HELPER_DEPTH} functions deep`, () => {
    const chain = Array.from({ length: MAX_HELPER_DEPTH + 1 }, (_, i) =>
      fn(
        String(10 + i),
        `f${i}`,
        i === MAX_HELPER_DEPTH ? `SELECT current_setting('${SETTING}')` : `SELECT f${i + 1}()`,
      ),
    );
    expect(policyReading(policy('(tenant_id = f0())', ['10']), chain, SETTING).reads).toBe('undecided');
    expect(policyReading(policy('(tenant_id = f1())', ['11']), chain, SETTING).reads).toBe(true);
  });
});

describe('tableReading', () => {
  const agents = table('agents', { policies: [policy(`(tenant_id = current_setting('${SETTING}', true))`)] });

  it('counts a subquery over a tenant table under RLS for a foreign-key child', () => {
    const tools = table('agent_tools', {
      found: 'fk',
      path: ['agent_tools', 'agents'],
      policies: [policy('(agent_id IN ( SELECT agents.id FROM agents))', [], ['agents'])],
    });
    expect(tableReading(tools, [agents, tools], SETTING)).toEqual({ reads: true, via: 'fk-subquery', over: 'agents' });
  });

  it('not when the parent has no RLS, nor for a table with the tenant column', () => {
    const open = { ...agents, rowSecurity: false };
    const tools = table('agent_tools', {
      found: 'fk',
      policies: [policy('(agent_id IN ( SELECT agents.id FROM agents))', [], ['agents'])],
    });
    expect(tableReading(tools, [open, tools], SETTING)).toEqual({ reads: false });
    const withColumn = { ...tools, found: 'column' as const };
    expect(tableReading(withColumn, [agents, withColumn], SETTING)).toEqual({ reads: false });
  });

  it('follows a parent that is itself a foreign-key table (tool_calls → agent_tools → agents)', () => {
    const tools = table('agent_tools', {
      found: 'fk',
      path: ['agent_tools', 'agents'],
      policies: [policy('(agent_id IN ( SELECT agents.id FROM agents))', [], ['agents'])],
    });
    const calls = table('tool_calls', {
      found: 'fk',
      path: ['tool_calls', 'agent_tools', 'agents'],
      policies: [policy('(tool_id IN ( SELECT agent_tools.id FROM agent_tools))', [], ['agent_tools'])],
    });
    expect(tableReading(calls, [agents, tools, calls], SETTING)).toEqual({
      reads: true,
      via: 'fk-subquery',
      over: 'agent_tools',
    });
    // Not when the middle table's policy reads nothing, nor around a cycle.
    const openTools = { ...tools, policies: [policy('true')] };
    expect(tableReading(calls, [agents, openTools, calls], SETTING)).toEqual({ reads: false });
    const a = table('a', { found: 'fk', policies: [policy('(x IN ( SELECT b.id FROM b))', [], ['b'])] });
    const b = table('b', { found: 'fk', policies: [policy('(y IN ( SELECT a.id FROM a))', [], ['a'])] });
    expect(tableReading(a, [a, b], SETTING)).toEqual({ reads: false });
  });
});

describe('openPolicies', () => {
  const iso = policy(`(tenant_id = current_setting('${SETTING}', true))`, [], [], { name: 'iso' });

  it('names a permissive policy for the application role that reads nothing beside a tenant policy', () => {
    const open = policy('true', [], [], { name: 'open', roles: ['app'] });
    const t = table('tickets', { policies: [iso, open] });
    expect(tableReading(t, [t], SETTING).reads).toBe(true);
    expect(openPolicies(t, [t], SETTING)).toEqual(['open']);
  });

  it('not for another role, a write-only command, a restrictive tenant policy, or a gate on another setting', () => {
    const forAdmin = policy('true', [], [], { name: 'admin', roles: ['admin'], appliesToApp: false });
    const insertOnly = policy('true', [], [], { name: 'ins', command: 'a' });
    const gate = policy(`(current_setting('app.is_admin', true) = 'true')`, [], [], { name: 'gate' });
    expect(openPolicies(table('t', { policies: [iso, forAdmin, insertOnly, gate] }), [], SETTING)).toEqual([]);
    const restrictive = { ...iso, name: 'iso_r', permissive: false };
    const open = policy('true', [], [], { name: 'open' });
    expect(openPolicies(table('t', { policies: [restrictive, open] }), [], SETTING)).toEqual([]);
  });

  it('counts a foreign-key child filtered through its parent as reading, a true one beside it as open', () => {
    const agents = table('agents', { policies: [iso] });
    const via = policy('(agent_id IN ( SELECT agents.id FROM agents))', [], ['agents'], { name: 'via' });
    const tools = table('agent_tools', { found: 'fk', policies: [via] });
    expect(openPolicies(tools, [agents, tools], SETTING)).toEqual([]);
    const leaky = { ...tools, policies: [via, policy('true', [], [], { name: 'all_rows' })] };
    expect(openPolicies(leaky, [agents, leaky], SETTING)).toEqual(['all_rows']);
  });
});
