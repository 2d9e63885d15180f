/**
 * What the canary costs the platform's database: the exact number of SQL statements each
 * tenant-scoped check sends, and the plan of each tenant-scoped query on the sandbox schema
 * (which must reach rows through an index, not a scan of every tenant's rows).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { withPorts } from '../../functions/app/with-ports.ts';
import type { TenantCheckId } from '../../functions/core/catalog.ts';
import { type Config, parseConfig } from '../../functions/core/config.ts';
import { syntheticLikePattern } from '../../functions/core/synthetic.ts';
import { ROUND_TRIP_SQL } from '../../functions/probes/enhancement.ts';
import { crossTenantWriteSql, visibilitySql } from '../../functions/probes/rls.ts';
import { HISTORY_VOLUME_SQL, TENANT_STATS_SQL } from '../../functions/probes/tenant-health.ts';
import { runChecks } from '../../functions/run.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';

const TENANT = 'acme-corp';

let sandbox: Sandbox;
let config: Config;

beforeAll(async () => {
  // Forty tenants, so that one tenant's rows are a small share of each table, as in production.
  sandbox = await startSandbox({ tenantCount: 40, redis: 'memory' });
  config = parseConfig(sandbox.config);
});
afterAll(async () => {
  await sandbox?.stop();
});

function statementsFor(checkId: TenantCheckId): Promise<{ statements: number; connections: number }> {
  return withPorts(openPorts, config, async (ports) => {
    const report = await runChecks({
      config,
      ports,
      secrets: createSecretResolver({ env: {} }),
      filters: { tenantIds: [TENANT], checkIds: [checkId], platform: false },
    });
    expect(report.results.map((r) => [r.checkId, r.status])).toEqual([[checkId, 'pass']]);
    return { statements: ports.pg?.statementCount ?? 0, connections: ports.pg?.connectionCount ?? 0 };
  });
}

describe('SQL statements per tenant check', () => {
  // BEGIN + SET LOCAL ROLE + set_config + the probe's own statements + ROLLBACK. The data probes
  // first read the run's catalog snapshot (5 statements, shared by every check of the run).
  const EXACT: [TenantCheckId, number][] = [
    // The run's catalog snapshot (it holds the function's declared argument type, looked up once), then
    // BEGIN; SET LOCAL ROLE; SELECT fn($1::<its type>); current_setting; ROLLBACK; DISCARD ALL (the platform's function ran)
    ['rls.context_function', 5 + 6],
    ['rls.cross_tenant_read', 5 + 5], // snapshot + one UNION ALL statement over the four tables
    // snapshot + BEGIN, ROLE, settings, one catalog statement for every table's write facts (tenant column
    // type, privileges, partition keys, sequence-fed columns), then per table 2 attempts of SAVEPOINT
    // (+ROLLBACK TO) + statement, the move being 3 statements (DECLARE a cursor over one own row, FETCH,
    // UPDATE ... WHERE CURRENT OF)
    ['rls.cross_tenant_write', 5 + 3 + 1 + 4 * 2 * 2 + 4 * 2 + (4 * 2 - 1) + 1],
    ['tenant.success_rate', 6], // stats and history volume in one transaction, shared by three checks
    ['tenant.latency', 6],
    ['tenant.history_volume', 6],
  ];

  it.each(EXACT)('%s sends exactly %i statements on one connection', async (checkId, expected) => {
    const { statements, connections } = await statementsFor(checkId);
    expect(statements).toBe(expected);
    expect(connections).toBe(1);
  });

  it('enhancement.round_trip sends 5 statements a poll, and few polls on a healthy platform', async () => {
    const { statements, connections } = await statementsFor('enhancement.round_trip');
    expect(statements % 5).toBe(0);
    expect(statements / 5).toBeGreaterThanOrEqual(1);
    expect(statements / 5).toBeLessThanOrEqual(6); // 200, 320, 512, 819, 1311 ms: a 0.15–0.4 s worker is caught early
    expect(connections).toBe(1);
  });

  it('a whole run for every tenant stays within 10 statements per tenant-check', async () => {
    await withPorts(openPorts, config, async (ports) => {
      const report = await runChecks({ config, ports, secrets: createSecretResolver({ env: {} }) });
      const tenantChecks = report.results.filter((r) => r.tenantId !== null && r.status !== 'skipped').length;
      expect(report.results.filter((r) => r.status !== 'pass' && r.status !== 'skipped')).toEqual([]);
      const perTenantCheck = (ports.pg?.statementCount ?? 0) / tenantChecks;
      expect(perTenantCheck).toBeLessThanOrEqual(10);
      // One pool for the run, never more connections than its size.
      expect(ports.pg?.connectionCount).toBeLessThanOrEqual(4);
    });
  }, 120_000);
});

describe('plans of the tenant-scoped queries', () => {
  type PlanNode = {
    'Node Type': string;
    'Index Name'?: string;
    'Index Cond'?: string;
    'Relation Name'?: string;
    Plans?: PlanNode[];
  };

  function nodes(plan: PlanNode): PlanNode[] {
    return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
  }

  /**
   * EXPLAIN as the canary runs it: its role, the tenant's context, inside a rolled-back
   * transaction. `indexable`: with sequential scans priced out, so that a table of one or two
   * pages (where a scan is rightly cheaper) still shows whether an index can serve the query;
   * a query whose shape defeats the index keeps its Seq Scan even then.
   */
  async function explain(
    sql: string,
    params: unknown[],
    indexable = false,
    withoutIndex?: string,
  ): Promise<PlanNode[]> {
    const database = config.database!;
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('ANALYZE'); // PGlite logs in as superuser: fresh statistics for the planner
      // DDL is transactional: the index is back after the ROLLBACK.
      if (withoutIndex !== undefined) await client.query(`DROP INDEX ${withoutIndex}`);
      if (database.probeAsRole !== null) await client.query(`SET LOCAL ROLE ${database.probeAsRole}`);
      if (indexable) await client.query('SET LOCAL enable_seqscan = off');
      await client.query(`SELECT set_config($1, $2, true), set_config('tenant_canary.other_tenant', 'globex', true)`, [
        database.tenantSetting,
        TENANT,
      ]);
      const result = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
      return nodes(result.rows[0]!['QUERY PLAN'][0].Plan);
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
    }
  }

  it('tenant statistics read enhancement_history through an index on tenant_id', async () => {
    const plan = await explain(TENANT_STATS_SQL, [TENANT, syntheticLikePattern('SYNTH-'), 10]);
    // Recorded: with one day of history per tenant, the planner takes (tenant_id, ticket_id) on tenant_id.
    const scan = plan.find((n) => n['Relation Name'] === 'enhancement_history');
    expect(scan?.['Node Type']).toMatch(/^(Index Scan|Bitmap Heap Scan|Index Only Scan)$/);
    expect(plan.some((n) => n['Node Type'] === 'Seq Scan')).toBe(false);
    expect(plan.some((n) => String(n['Index Cond'] ?? '').includes('tenant_id'))).toBe(true);
  });

  it('and (tenant_id, status, created_at) serves all three of its predicates', async () => {
    // Where months of history make the 24-hour range selective, this is the index that matters.
    const plan = await explain(
      TENANT_STATS_SQL,
      [TENANT, syntheticLikePattern('SYNTH-'), 10],
      false,
      'idx_enhancement_history_tenant_ticket',
    );
    const used = plan.find((n) => n['Index Name'] === 'idx_enhancement_history_tenant_status_created');
    expect(used?.['Index Cond']).toMatch(/tenant_id.*status.*created_at/s);
    expect(plan.some((n) => n['Node Type'] === 'Seq Scan')).toBe(false);
  });

  it('the history volume counts ticket_history through its (tenant_id, ticket_id) index', async () => {
    const plan = await explain(HISTORY_VOLUME_SQL, [TENANT, 50]);
    expect(plan.some((n) => n['Index Name'] === 'uq_ticket_history_tenant_ticket')).toBe(true);
    expect(plan.some((n) => n['Node Type'] === 'Seq Scan')).toBe(false);
  });

  it('the round-trip poll finds the synthetic ticket through (tenant_id, ticket_id)', async () => {
    const plan = await explain(ROUND_TRIP_SQL, [TENANT, 'SYNTH-0123456789ABCDEF', 'llm_output']);
    expect(plan.some((n) => n['Index Name'] === 'idx_enhancement_history_tenant_ticket')).toBe(true);
    expect(plan.some((n) => n['Node Type'] === 'Seq Scan')).toBe(false);
  });

  it('the cross-tenant read probe reaches every table through an index led by tenant_id', async () => {
    const tables = config.database!.tenantTables.map((name) => ({
      name,
      found: 'column' as const,
      hops: [],
      tenantColumnType: 'character varying',
    }));
    const plan = await explain(visibilitySql(tables, config.database!.tenantColumn), [TENANT], true);
    expect(plan.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name'])).toEqual([]);
    const indexed = new Set(plan.filter((n) => n['Index Name'] !== undefined).map((n) => n['Relation Name']));
    expect([...indexed].sort()).toEqual([...config.database!.tenantTables].sort());
  });

  it("the cross-tenant move picks the tenant's own row through an index", async () => {
    for (const table of config.database!.tenantTables) {
      // As the probe sends it: the settings cast to the tenant column's own type (varchar here).
      const { ownRow } = crossTenantWriteSql(table, config.database!.tenantSetting, {
        castType: 'pg_catalog."varchar"',
      });
      const plan = await explain(ownRow, [], true);
      expect(
        plan.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']),
        table,
      ).toEqual([]);
    }
  });
});
