/**
 * The paths around row-level security (CONTRACT.md, "Added checks"): views, partitions and
 * inheritance children, SECURITY DEFINER functions, the context function's scope, and the pinned
 * isolation snapshot. Each verdict is checked against what PostgreSQL really lets the platform's
 * application role read (the ground truth: a query as that role in one tenant's context), so a
 * pass means PostgreSQL refused, and each way around RLS makes its check fail. No probe leaves a
 * tenant row changed or the tenant setting on the pooled connection. On PGlite, and on
 * PostgreSQL 15 when DATABASE_URL is set (CI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { runWithPorts, withPorts } from '../../functions/app/with-ports.ts';
import type { CheckId } from '../../functions/core/catalog.ts';
import { type Config, type ConfigInput, parseConfig } from '../../functions/core/config.ts';
import type { CheckResult } from '../../functions/core/types.ts';
import { isolationDigest, readIsolationSnapshot } from '../../functions/probes/isolation.ts';
import { runChecks } from '../../functions/run.ts';
import { type SandboxDatabase, startDatabase } from '../../sandbox/db.ts';
import {
  CONTEXT_FUNCTION,
  contextFunctionSql,
  quoteIdent,
  TENANT_SETTING,
  TENANT_TABLES,
} from '../../sandbox/schema.ts';
import { databaseUrl } from '../support/services.ts';
import { databaseSection, seedOneRowEach } from '../support/tenant-rows.ts';

const TENANT = 'acme-corp';
const OTHER = 'globex';
const MATCH = `tenant_id = COALESCE(current_setting('${TENANT_SETTING}', true), '')`;
const NEW_CHECKS: CheckId[] = [
  'rls.views_respect_rls',
  'rls.partitions_covered',
  'rls.definer_functions',
  'rls.context_scope',
  'rls.isolation_snapshot',
];

/** Every tenant row, as the superuser sees it (to prove nothing was changed). */
async function allRows(db: SandboxDatabase): Promise<string> {
  const out: string[] = [];
  for (const table of TENANT_TABLES) {
    const { rows } = await db.admin(`SELECT t::text AS row FROM public.${table} t ORDER BY id`);
    out.push(...(rows as { row: string }[]).map((r) => `${table} ${r.row}`));
  }
  return out.join('\n');
}

function suite(name: string, url: string | undefined) {
  describe(`isolation depth (${name})`, () => {
    let db: SandboxDatabase;
    let base: ConfigInput;
    let pinned: string;
    let owner: string;
    let appUser: string;
    let app: string;

    const configWith = (database: Record<string, unknown> = {}, extraTables: string[] = []): Config =>
      parseConfig({
        ...base,
        database: {
          ...(base.database as Record<string, unknown>),
          tenantTables: [...TENANT_TABLES, ...extraTables],
          ...database,
        },
      });

    const digestNow = async (config: Config = configWith()): Promise<string> =>
      withPorts(openPorts, config, async (ports) =>
        isolationDigest(await readIsolationSnapshot(ports.pg!, config.database!)),
      );

    const check = async (checkId: CheckId, config: Config = configWith({ isolationDigest: pinned })) => {
      const report = await runWithPorts(openPorts, {
        config,
        secrets: createSecretResolver({ env: {} }),
        filters: { tenantIds: [], checkIds: [checkId] },
      });
      const result = report.results.find((r) => r.checkId === checkId);
      if (!result) throw new Error(`no result for ${checkId}`);
      return result;
    };

    /** The tenants the application role sees through `sql` in TENANT's context: the ground truth. */
    const seenByApp = async (sql: string): Promise<string[]> => {
      const { rows } = await db.withTenant(TENANT, (client) => client.query(sql));
      return [...new Set((rows as { tenant_id: string }[]).map((r) => r.tenant_id))].sort();
    };

    beforeAll(async () => {
      db = await startDatabase({ ...(url ? { databaseUrl: url } : {}), log: () => {} });
      await seedOneRowEach(db, [TENANT, OTHER]);
      ({ owner, appUser, app } = {
        owner: quoteIdent(db.roles.owner),
        appUser: quoteIdent(db.roles.appUser),
        app: quoteIdent(db.roles.app),
      });
      base = {
        platform: { baseUrl: 'http://127.0.0.1:9' },
        database: databaseSection(db),
        tenants: [TENANT, OTHER].map((tenantId) => ({ tenantId, signingSecret: { value: 'unused' } })),
      };
      pinned = await digestNow();
    }, 120_000);
    afterAll(async () => {
      await db?.stop();
    });

    it('passes every new check on the healthy schema', async () => {
      for (const checkId of NEW_CHECKS) {
        const result = await check(checkId);
        expect(result.status, `${checkId}: ${result.summary}`).toBe('pass');
      }
    });

    describe('rls.views_respect_rls', () => {
      const cases: { name: string; setup: string; leaks: boolean }[] = [
        {
          name: "a view owned by the tables' owner, no security_invoker",
          setup: `CREATE VIEW public.v AS SELECT tenant_id, ticket_id FROM public.ticket_history;
                  ALTER VIEW public.v OWNER TO ${'$owner'}; GRANT SELECT ON public.v TO ${'$appUser'};`,
          leaks: true,
        },
        {
          name: 'the same view WITH (security_invoker = true)',
          setup: `CREATE VIEW public.v WITH (security_invoker = true) AS SELECT tenant_id, ticket_id FROM public.ticket_history;
                  ALTER VIEW public.v OWNER TO ${'$owner'}; GRANT SELECT ON public.v TO ${'$appUser'};`,
          leaks: false,
        },
        {
          name: 'a definer view owned by a role subject to RLS',
          setup: `CREATE VIEW public.v AS SELECT tenant_id, ticket_id FROM public.ticket_history;
                  ALTER VIEW public.v OWNER TO ${'$appUser'};`,
          leaks: false,
        },
        {
          name: 'an invoker view over a definer view (the inner one leaks)',
          setup: `CREATE VIEW public.v_inner AS SELECT tenant_id, ticket_id FROM public.ticket_history;
                  ALTER VIEW public.v_inner OWNER TO ${'$owner'}; GRANT SELECT ON public.v_inner TO ${'$appUser'};
                  CREATE VIEW public.v WITH (security_invoker = true) AS SELECT * FROM public.v_inner;
                  ALTER VIEW public.v OWNER TO ${'$owner'}; GRANT SELECT ON public.v TO ${'$appUser'};`,
          leaks: true,
        },
        {
          name: 'a materialized view readable by the application',
          setup: `CREATE MATERIALIZED VIEW public.v AS SELECT tenant_id, ticket_id FROM public.ticket_history;
                  ALTER MATERIALIZED VIEW public.v OWNER TO ${'$owner'}; GRANT SELECT ON public.v TO ${'$appUser'};`,
          leaks: true,
        },
      ];
      const sql = (text: string) => text.replaceAll('$owner', owner).replaceAll('$appUser', appUser);

      for (const c of cases) {
        it(`${c.leaks ? 'fails P0' : 'passes'}: ${c.name}`, async () => {
          await db.admin(sql(c.setup));
          try {
            const truth = await seenByApp('SELECT tenant_id FROM public.v');
            expect(truth).toEqual(c.leaks ? [TENANT, OTHER].sort() : [TENANT]);
            const result = await check('rls.views_respect_rls');
            expect(result).toMatchObject(c.leaks ? { status: 'fail', tier: 'P0' } : { status: 'pass' });
            if (c.name.includes('inner')) {
              const holes = result.evidence.holes as { view: string }[];
              expect(holes.map((h) => h.view)).toEqual(['v_inner']);
            }
          } finally {
            const kind = c.name.includes('materialized') ? 'MATERIALIZED VIEW' : 'VIEW';
            await db.admin(`DROP ${kind} public.v; DROP VIEW IF EXISTS public.v_inner;`);
          }
        });
      }

      it('passes a definer view when FORCE ROW LEVEL SECURITY makes the owner subject to RLS', async () => {
        await db.admin(sql(cases[0]!.setup));
        await db.admin('ALTER TABLE public.ticket_history FORCE ROW LEVEL SECURITY');
        try {
          expect(await seenByApp('SELECT tenant_id FROM public.v')).toEqual([TENANT]);
          expect((await check('rls.views_respect_rls')).status).toBe('pass');
        } finally {
          await db.admin('ALTER TABLE public.ticket_history NO FORCE ROW LEVEL SECURITY; DROP VIEW public.v;');
        }
      });
    });

    describe('rls.partitions_covered', () => {
      it('fails P0 for an inheritance child without RLS, and passes once it has RLS and a tenant policy', async () => {
        await db.admin(`CREATE TABLE public.inv_archive () INHERITS (public.system_inventory);
          ALTER TABLE public.inv_archive OWNER TO ${owner}; GRANT SELECT ON public.inv_archive TO ${appUser};
          INSERT INTO public.inv_archive (tenant_id, ip_address) VALUES ('${TENANT}', '10.0.0.9'), ('${OTHER}', '10.0.0.9');`);
        try {
          expect(await seenByApp('SELECT tenant_id FROM public.inv_archive')).toEqual([TENANT, OTHER].sort());
          // Through the parent its policies apply: only the direct query leaks.
          expect(await seenByApp('SELECT tenant_id FROM public.system_inventory')).toEqual([TENANT]);
          const open = await check('rls.partitions_covered');
          expect(open).toMatchObject({ status: 'fail', tier: 'P0' });
          expect(open.evidence.uncovered).toEqual([
            {
              child: 'inv_archive',
              parent: 'system_inventory',
              kind: 'child',
              reasons: ['row-level security is disabled', `no policy reads ${TENANT_SETTING}`],
            },
          ]);
          await db.admin('ALTER TABLE public.inv_archive ENABLE ROW LEVEL SECURITY');
          const noPolicy = await check('rls.partitions_covered');
          expect(noPolicy.status).toBe('fail');
          await db.admin(`CREATE POLICY inv_archive_tenant ON public.inv_archive FOR ALL USING (${MATCH})`);
          expect(await seenByApp('SELECT tenant_id FROM public.inv_archive')).toEqual([TENANT]);
          expect((await check('rls.partitions_covered')).status).toBe('pass');
        } finally {
          await db.admin('DROP TABLE public.inv_archive');
        }
      });

      it('fails P0 for a child whose policy checks writes but opens reads (USING true), and for a view over a child', async () => {
        await db.admin(`CREATE TABLE public.inv_archive () INHERITS (public.system_inventory);
          ALTER TABLE public.inv_archive OWNER TO ${owner}; GRANT SELECT ON public.inv_archive TO ${appUser};
          ALTER TABLE public.inv_archive ENABLE ROW LEVEL SECURITY;
          CREATE POLICY inv_archive_writes ON public.inv_archive FOR ALL USING (true) WITH CHECK (${MATCH});
          INSERT INTO public.inv_archive (tenant_id, ip_address) VALUES ('${TENANT}', '10.0.0.9'), ('${OTHER}', '10.0.0.9');
          CREATE VIEW public.v_archive AS SELECT tenant_id FROM public.inv_archive;
          ALTER VIEW public.v_archive OWNER TO ${owner}; GRANT SELECT ON public.v_archive TO ${appUser};`);
        try {
          expect(await seenByApp('SELECT tenant_id FROM public.inv_archive')).toEqual([TENANT, OTHER].sort());
          const child = await check('rls.partitions_covered');
          expect(child).toMatchObject({ status: 'fail', tier: 'P0' });
          expect(child.summary).toContain('no policy reads');
          await db.admin(`CREATE POLICY inv_archive_tenant ON public.inv_archive FOR SELECT USING (${MATCH})`);
          // Permissive policies OR together: the open one still lets every row through.
          expect(await seenByApp('SELECT tenant_id FROM public.inv_archive')).toEqual([TENANT, OTHER].sort());
          const stillOpen = await check('rls.partitions_covered');
          expect(stillOpen.status).toBe('fail');
          expect(stillOpen.summary).toContain('permissive policy inv_archive_writes let rows through');
          // A definer view over the child reads it with the owner's rights.
          expect(await seenByApp('SELECT tenant_id FROM public.v_archive')).toEqual([TENANT, OTHER].sort());
          const views = await check('rls.views_respect_rls');
          expect(views).toMatchObject({ status: 'fail', tier: 'P0' });
          expect((views.evidence.holes as { view: string }[]).map((h) => h.view)).toEqual(['v_archive']);
        } finally {
          await db.admin('DROP VIEW public.v_archive; DROP TABLE public.inv_archive;');
        }
      });

      it('fails P0 for a partition of a partitioned tenant table queried directly', async () => {
        await db.admin(`CREATE TABLE public.tenant_events (tenant_id varchar(100) NOT NULL, body text) PARTITION BY LIST (tenant_id);
          CREATE TABLE public.tenant_events_a PARTITION OF public.tenant_events FOR VALUES IN ('${TENANT}');
          CREATE TABLE public.tenant_events_g PARTITION OF public.tenant_events FOR VALUES IN ('${OTHER}');
          ALTER TABLE public.tenant_events OWNER TO ${owner};
          ALTER TABLE public.tenant_events_a OWNER TO ${owner}; ALTER TABLE public.tenant_events_g OWNER TO ${owner};
          ALTER TABLE public.tenant_events ENABLE ROW LEVEL SECURITY;
          CREATE POLICY tenant_events_tenant ON public.tenant_events FOR ALL USING (${MATCH});
          GRANT SELECT ON public.tenant_events, public.tenant_events_a, public.tenant_events_g TO ${appUser};
          INSERT INTO public.tenant_events VALUES ('${TENANT}', 'a'), ('${OTHER}', 'g');`);
        const config = configWith({ isolationDigest: null }, ['tenant_events']);
        try {
          expect(await seenByApp('SELECT tenant_id FROM public.tenant_events')).toEqual([TENANT]);
          expect(await seenByApp('SELECT tenant_id FROM public.tenant_events_g')).toEqual([OTHER]);
          const result = await check('rls.partitions_covered', config);
          expect(result).toMatchObject({ status: 'fail', tier: 'P0' });
          expect(
            (result.evidence.uncovered as { child: string; kind: string }[]).map((u) => `${u.kind} ${u.child}`),
          ).toEqual(['partition tenant_events_a', 'partition tenant_events_g']);
          for (const part of ['tenant_events_a', 'tenant_events_g']) {
            await db.admin(`ALTER TABLE public.${part} ENABLE ROW LEVEL SECURITY;
              CREATE POLICY ${part}_tenant ON public.${part} FOR ALL USING (${MATCH});`);
          }
          expect(await seenByApp('SELECT tenant_id FROM public.tenant_events_g')).toEqual([]);
          expect((await check('rls.partitions_covered', config)).status).toBe('pass');
        } finally {
          await db.admin('DROP TABLE public.tenant_events');
        }
      });
    });

    describe('rls.definer_functions', () => {
      const create = (security: 'DEFINER' | 'INVOKER', fnOwner: string) =>
        `CREATE FUNCTION public.find_tickets(p text) RETURNS SETOF public.ticket_history
           LANGUAGE sql STABLE SECURITY ${security} SET search_path = public, pg_temp
         AS $fn$ SELECT * FROM public.ticket_history WHERE description LIKE '%' || p || '%' $fn$;
         ALTER FUNCTION public.find_tickets(text) OWNER TO ${fnOwner};`;
      const drop = 'DROP FUNCTION IF EXISTS public.find_tickets(text)';
      const truth = () => seenByApp(`SELECT tenant_id FROM public.find_tickets('printer')`);

      it("fails P2 for a definer function of the tables' owner open to PUBLIC, and lists it", async () => {
        await db.admin(create('DEFINER', owner));
        try {
          expect(await truth()).toEqual([TENANT, OTHER].sort());
          const result = await check('rls.definer_functions');
          expect(result).toMatchObject({ status: 'fail', tier: 'P2' });
          expect(result.evidence.review).toEqual([
            expect.objectContaining({
              function: 'find_tickets(text)',
              executableBy: ['PUBLIC', 'the application role'],
              bypassesRlsOn: [...TENANT_TABLES].sort(),
            }),
          ]);
          await db.admin(`REVOKE EXECUTE ON FUNCTION public.find_tickets(text) FROM PUBLIC`);
          await expect(truth()).rejects.toThrow(/permission denied/);
          expect((await check('rls.definer_functions')).status).toBe('pass');
          await db.admin(`GRANT EXECUTE ON FUNCTION public.find_tickets(text) TO ${appUser}`);
          const granted = await check('rls.definer_functions');
          expect(granted.status).toBe('fail');
          expect((granted.evidence.review as { executableBy: string[] }[])[0]?.executableBy).toEqual([
            'the application role',
          ]);
        } finally {
          await db.admin(drop);
        }
      });

      it('passes a definer function owned by a role subject to RLS, and an invoker one', async () => {
        for (const [security, fnOwner] of [
          ['DEFINER', appUser],
          ['INVOKER', owner],
        ] as const) {
          await db.admin(create(security, fnOwner));
          try {
            expect(await truth()).toEqual([TENANT]);
            expect((await check('rls.definer_functions')).status, `${security} owned by ${fnOwner}`).toBe('pass');
          } finally {
            await db.admin(drop);
          }
        }
      });

      it('fails P2 when the context function has no fixed search_path', async () => {
        await db.admin(`ALTER FUNCTION public.${CONTEXT_FUNCTION}(varchar) RESET search_path`);
        try {
          const result = await check('rls.definer_functions');
          expect(result).toMatchObject({ status: 'fail', tier: 'P2' });
          expect(result.summary).toContain(`${CONTEXT_FUNCTION}(character varying)`);
          // Not named as the context function, it is one more open definer function that bypasses RLS.
          const unnamed = await check('rls.definer_functions', configWith({ contextFunction: null }));
          expect(unnamed.status).toBe('fail');
          expect(unnamed.evidence.review).toEqual([
            expect.objectContaining({
              function: `${CONTEXT_FUNCTION}(character varying)`,
              executableBy: ['the application role'],
            }),
          ]);
        } finally {
          await db.admin(`ALTER FUNCTION public.${CONTEXT_FUNCTION}(varchar) SET search_path = public, pg_temp`);
        }
      });
    });

    describe('rls.context_scope', () => {
      it('passes a transaction-scoped context function and fails P2 a session-scoped one', async () => {
        const healthy = await check('rls.context_scope');
        expect(healthy.status).toBe('pass');
        expect(healthy.evidence.settingAfterCommit ?? '').toBe('');
        await db.admin(contextFunctionSql('session'));
        try {
          const leaking = await check('rls.context_scope');
          expect(leaking).toMatchObject({ status: 'fail', tier: 'P2' });
          expect(leaking.evidence).toMatchObject({ settingAfterCommit: TENANT, settingAfterReset: '' });
        } finally {
          await db.admin(contextFunctionSql('transaction'));
        }
      });

      it('reports error, and writes nothing, when the context function writes (the probe is READ ONLY)', async () => {
        await db.admin(`CREATE TABLE public.context_audit (tenant_id text);
          GRANT INSERT ON public.context_audit TO ${appUser};
          CREATE OR REPLACE FUNCTION public.${CONTEXT_FUNCTION}(p_tenant_id varchar) RETURNS void
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
          AS $fn$ BEGIN
            INSERT INTO public.context_audit VALUES (p_tenant_id);
            PERFORM set_config('${TENANT_SETTING}', p_tenant_id, false);
          END $fn$;`);
        try {
          const result = await check('rls.context_scope');
          expect(result).toMatchObject({ status: 'error', tier: 'P2' });
          expect(result.summary).toContain('READ ONLY');
          expect((await db.admin('SELECT count(*)::int AS n FROM public.context_audit')).rows[0]).toEqual({ n: 0 });
        } finally {
          await db.admin(`${contextFunctionSql('transaction')} DROP TABLE public.context_audit;`);
        }
      });

      it('is skipped without a context function', async () => {
        expect((await check('rls.context_scope', configWith({ contextFunction: null }))).status).toBe('skipped');
      });
    });

    describe('rls.isolation_snapshot', () => {
      it('is skipped with the current digest when none is pinned, passes when it matches', async () => {
        const unpinned = await check('rls.isolation_snapshot', configWith());
        expect(unpinned.status).toBe('skipped');
        expect(unpinned.summary).toContain(pinned);
        expect((await check('rls.isolation_snapshot')).status).toBe('pass');
        expect(await digestNow()).toBe(pinned); // stable across runs and fresh connections
      });

      const changes: { kind: string; apply: () => string; revert: () => string }[] = [
        {
          kind: 'a policy expression',
          apply: () => `ALTER POLICY ticket_history_tenant_isolation_policy ON public.ticket_history
                        USING (tenant_id = current_setting('${TENANT_SETTING}', true))`,
          revert: () => `ALTER POLICY ticket_history_tenant_isolation_policy ON public.ticket_history USING (${MATCH})`,
        },
        {
          kind: "a policy's roles",
          apply: () => `ALTER POLICY ticket_history_tenant_isolation_policy ON public.ticket_history TO ${appUser}`,
          revert: () => `ALTER POLICY ticket_history_tenant_isolation_policy ON public.ticket_history TO PUBLIC`,
        },
        {
          kind: 'an extra policy',
          apply: () => `CREATE POLICY extra ON public.system_inventory AS RESTRICTIVE FOR DELETE USING (true)`,
          revert: () => 'DROP POLICY extra ON public.system_inventory',
        },
        {
          kind: 'the FORCE flag',
          apply: () => 'ALTER TABLE public.tenant_configs FORCE ROW LEVEL SECURITY',
          revert: () => 'ALTER TABLE public.tenant_configs NO FORCE ROW LEVEL SECURITY',
        },
        {
          kind: 'the RLS flag',
          apply: () => 'ALTER TABLE public.tenant_configs DISABLE ROW LEVEL SECURITY',
          revert: () => 'ALTER TABLE public.tenant_configs ENABLE ROW LEVEL SECURITY',
        },
        {
          kind: 'the owner',
          apply: () => `ALTER TABLE public.enhancement_history OWNER TO ${appUser}`,
          // Ownership moves the old owner's grants along: give the application back exactly its own.
          revert: () => `ALTER TABLE public.enhancement_history OWNER TO ${owner};
            REVOKE ALL ON public.enhancement_history FROM ${appUser};
            GRANT SELECT, INSERT, UPDATE ON public.enhancement_history TO ${appUser};`,
        },
        {
          kind: 'a grant',
          apply: () => `GRANT DELETE ON public.enhancement_history TO ${appUser}`,
          revert: () => `REVOKE DELETE ON public.enhancement_history FROM ${appUser}`,
        },
        {
          kind: "the app role's attributes",
          apply: () => `ALTER ROLE ${app} CREATEDB`,
          revert: () => `ALTER ROLE ${app} NOCREATEDB`,
        },
        {
          kind: 'the tenant tables (a migration adds one, found by its tenant_id column)',
          apply: () => 'CREATE TABLE public.later_table (id serial PRIMARY KEY, tenant_id varchar(100) NOT NULL)',
          revert: () => 'DROP TABLE public.later_table',
        },
        {
          kind: "the app role's memberships",
          apply: () => `GRANT ${owner} TO ${app}`,
          revert: () => `REVOKE ${owner} FROM ${app}`,
        },
      ];
      for (const change of changes) {
        it(`fails P2 when ${change.kind} changes, and matches again once it is undone`, async () => {
          await db.admin(change.apply());
          try {
            const current = await digestNow();
            expect(current).not.toBe(pinned);
            const result = await check('rls.isolation_snapshot');
            expect(result).toMatchObject({ status: 'fail', tier: 'P2' });
            expect(result.evidence).toMatchObject({ pinned, current });
            expect(result.evidence.snapshot).toMatchObject({ version: 2, probeRole: expect.any(String) });
          } finally {
            await db.admin(change.revert());
          }
          expect(await digestNow()).toBe(pinned);
        });
      }
    });

    it('leaves no tenant row changed and no tenant setting on a pooled connection, even session-scoped', async () => {
      await db.admin(contextFunctionSql('session'));
      try {
        const before = await allRows(db);
        const config = configWith({ isolationDigest: pinned, maxConnections: 1 });
        const { report, pidBefore, pidAfter, setting } = await withPorts(openPorts, config, async (ports) => {
          const pid = () =>
            ports.pg!.inRolledBackTransaction({ role: null }, async (s) => {
              const { rows } = await s.query<{ pid: number; setting: string | null }>(
                'SELECT pg_backend_pid() AS pid, current_setting($1, true) AS setting',
                [TENANT_SETTING],
              );
              return rows[0]!;
            });
          const first = await pid();
          const run = await runChecks({
            config,
            ports,
            secrets: createSecretResolver({ env: {} }),
            filters: { checkIds: [...NEW_CHECKS, 'rls.context_function', 'rls.cross_tenant_write'] },
          });
          const after = await pid();
          return { report: run, pidBefore: first.pid, pidAfter: after.pid, setting: after.setting };
        });
        const scope = report.results.find((r: CheckResult) => r.checkId === 'rls.context_scope');
        expect(scope?.status).toBe('fail'); // the leak was there, and was cleaned up
        // The connection that ran the platform's function was closed, not handed to the next probe
        // (PGlite has one backend, shared by every connection: there the setting is what counts).
        if (name === 'PostgreSQL') expect(pidAfter).not.toBe(pidBefore);
        else expect(pidAfter).toBe(pidBefore);
        expect(setting ?? '').toBe('');
        expect(await allRows(db)).toBe(before);
      } finally {
        await db.admin(contextFunctionSql('transaction'));
      }
    });
  });
}

suite('PGlite', undefined);
const realUrl = databaseUrl();
if (realUrl) suite('PostgreSQL', realUrl);
