/**
 * `rls.cross_tenant_write` against each way the policies of one table can let a cross-tenant
 * write through, or refuse it: FOR ALL, separate FOR UPDATE and FOR INSERT policies, permissive
 * ones OR'ed, restrictive ones AND'ed, each with an open and a tenant-scoped WITH CHECK. The
 * verdict must be PostgreSQL's: a hole is reported exactly where the platform's own statements
 * would get through, and no tenant row is left changed. On PGlite, and on PostgreSQL 15 when
 * DATABASE_URL is set (CI).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPorts } from '../../functions/adapters/index.ts';
import { createSecretResolver } from '../../functions/adapters/secrets.ts';
import { runWithPorts } from '../../functions/app/with-ports.ts';
import { type Config, parseConfig } from '../../functions/core/config.ts';
import type { CheckResult } from '../../functions/core/types.ts';
import { type SandboxDatabase, startDatabase } from '../../sandbox/db.ts';
import { TENANT_SETTING, TENANT_TABLES } from '../../sandbox/schema.ts';
import { databaseUrl } from '../support/services.ts';
import { databaseSection, seedOneRowEach } from '../support/tenant-rows.ts';

const TENANT = 'acme-corp';
const OTHER = 'globex';
const TABLE = 'system_inventory';
const MATCH = `tenant_id = COALESCE(current_setting('${TENANT_SETTING}', true), '')`;

type Hole = 'move' | 'insert';

/** Policies on system_inventory (the other tables keep the sandbox's scoped FOR ALL policy). */
const SHAPES: { shape: string; policies: string[]; holes: Hole[] }[] = [
  {
    shape: 'FOR ALL, USING scoped, no WITH CHECK (it defaults to USING)',
    policies: [`FOR ALL USING (${MATCH})`],
    holes: [],
  },
  {
    shape: 'FOR ALL, USING scoped, WITH CHECK scoped',
    policies: [`FOR ALL USING (${MATCH}) WITH CHECK (${MATCH})`],
    holes: [],
  },
  {
    shape: 'FOR ALL, USING scoped, WITH CHECK open',
    policies: [`FOR ALL USING (${MATCH}) WITH CHECK (true)`],
    holes: ['move', 'insert'],
  },
  {
    shape: 'separate SELECT, INSERT and UPDATE policies, all scoped',
    policies: [
      `FOR SELECT USING (${MATCH})`,
      `FOR INSERT WITH CHECK (${MATCH})`,
      `FOR UPDATE USING (${MATCH}) WITH CHECK (${MATCH})`,
    ],
    holes: [],
  },
  {
    // The hole a statement that reads a column hides: its new row also meets the SELECT policy.
    shape: 'separate policies, the UPDATE policy scoped by USING but WITH CHECK open',
    policies: [
      `FOR SELECT USING (${MATCH})`,
      `FOR INSERT WITH CHECK (${MATCH})`,
      `FOR UPDATE USING (${MATCH}) WITH CHECK (true)`,
    ],
    holes: ['move'],
  },
  {
    shape: 'separate policies, the INSERT policy open',
    policies: [
      `FOR SELECT USING (${MATCH})`,
      `FOR INSERT WITH CHECK (true)`,
      `FOR UPDATE USING (${MATCH}) WITH CHECK (${MATCH})`,
    ],
    holes: ['insert'],
  },
  {
    shape: 'permissive policies OR together: a scoped FOR ALL plus an open FOR UPDATE',
    policies: [`FOR ALL USING (${MATCH})`, `FOR UPDATE USING (${MATCH}) WITH CHECK (true)`],
    holes: ['move'],
  },
  {
    shape: 'permissive policies OR together: a scoped FOR ALL plus an open FOR INSERT',
    policies: [`FOR ALL USING (${MATCH})`, `FOR INSERT WITH CHECK (true)`],
    holes: ['insert'],
  },
  {
    shape: 'restrictive policies AND together: an open permissive FOR ALL under a scoped restrictive FOR ALL',
    policies: [
      `FOR ALL USING (true) WITH CHECK (true)`,
      `AS RESTRICTIVE FOR ALL USING (${MATCH}) WITH CHECK (${MATCH})`,
    ],
    holes: [],
  },
  {
    shape: 'restrictive policies AND together: an open restrictive FOR UPDATE does not open a scoped FOR ALL',
    policies: [`FOR ALL USING (${MATCH})`, `AS RESTRICTIVE FOR UPDATE USING (${MATCH}) WITH CHECK (true)`],
    holes: [],
  },
  {
    shape: 'restrictive policies AND together: a scoped restrictive FOR INSERT leaves an open FOR ALL open to moves',
    policies: [`FOR ALL USING (${MATCH}) WITH CHECK (true)`, `AS RESTRICTIVE FOR INSERT WITH CHECK (${MATCH})`],
    holes: ['move'],
  },
];

async function usePolicies(db: SandboxDatabase, policies: readonly string[]): Promise<void> {
  const { rows } = await db.admin('SELECT policyname FROM pg_policies WHERE schemaname = $1 AND tablename = $2', [
    'public',
    TABLE,
  ]);
  for (const { policyname } of rows as { policyname: string }[]) {
    await db.admin(`DROP POLICY "${policyname}" ON public.${TABLE}`);
  }
  for (const [i, clauses] of policies.entries())
    await db.admin(`CREATE POLICY shape_${i} ON public.${TABLE} ${clauses}`);
}

/** Every tenant row, as the superuser sees it (to prove nothing was changed). */
async function allRows(db: SandboxDatabase): Promise<string[]> {
  const out: string[] = [];
  for (const table of TENANT_TABLES) {
    const { rows } = await db.admin(`SELECT id::text, tenant_id FROM public.${table} ORDER BY id`);
    out.push(...(rows as { id: string; tenant_id: string }[]).map((r) => `${table} ${r.id} ${r.tenant_id}`));
  }
  return out;
}

function writeSuite(name: string, url: string | undefined) {
  describe(`rls.cross_tenant_write by policy shape (${name})`, () => {
    let db: SandboxDatabase;
    let config: Config;

    beforeAll(async () => {
      db = await startDatabase({ ...(url ? { databaseUrl: url } : {}), log: () => {} });
      await seedOneRowEach(db, [TENANT, OTHER]);
      config = parseConfig({
        platform: { baseUrl: 'http://127.0.0.1:9' },
        database: databaseSection(db, { contextFunction: null }),
        tenants: [TENANT, OTHER].map((tenantId) => ({ tenantId, signingSecret: { value: 'unused' } })),
      });
    }, 120_000);
    afterAll(async () => {
      await db?.stop();
    });

    const probe = async (): Promise<CheckResult> => {
      const report = await runWithPorts(openPorts, {
        config,
        secrets: createSecretResolver({ env: {} }),
        filters: { tenantIds: [TENANT], checkIds: ['rls.cross_tenant_write'], platform: false },
      });
      const [result] = report.results;
      if (!result) throw new Error('no result');
      return result;
    };

    for (const { shape, policies, holes } of SHAPES) {
      it(`${holes.length === 0 ? 'passes' : `fails P0 (${holes.join(' and ')})`}: ${shape}`, async () => {
        await usePolicies(db, policies);
        const before = await allRows(db);

        const result = await probe();

        const attempts = result.evidence.attempts as { table: string; attempt: string; verdict: string }[];
        const permitted = attempts
          .filter((a) => a.verdict === 'permitted')
          .map((a) => `${a.table}: ${a.attempt.startsWith('move') ? 'move' : 'insert'}`);
        expect(permitted).toEqual(holes.map((hole) => `${TABLE}: ${hole}`));
        if (holes.length === 0) {
          expect(result).toMatchObject({ status: 'pass', tier: null });
          // The positive control: on every table the move reached an own row and was refused.
          expect(attempts.filter((a) => a.attempt.startsWith('move')).map((a) => a.verdict)).toEqual(
            TENANT_TABLES.map(() => 'refused'),
          );
        } else {
          expect(result).toMatchObject({ status: 'fail', tier: 'P0' });
          expect(result.summary).toContain(`writing as tenant ${OTHER} was allowed`);
        }
        expect(await allRows(db)).toEqual(before);
      });
    }
  });
}

writeSuite('PGlite', undefined);
const realUrl = databaseUrl();
if (realUrl) writeSuite('PostgreSQL', realUrl);
