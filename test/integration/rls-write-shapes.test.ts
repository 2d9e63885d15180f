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

/** A uuid-keyed, an integer-keyed (serial id) and a bigint-keyed (identity id) table, and a partitioned one. */
const TYPED = [
  { table: 'typed_uuid', type: 'uuid', id: 'id uuid PRIMARY KEY DEFAULT gen_random_uuid()', sequence: null },
  { table: 'typed_int', type: 'integer', id: 'id serial PRIMARY KEY', sequence: 'typed_int_id_seq' },
  {
    table: 'typed_bigint',
    type: 'bigint',
    id: 'id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
    sequence: 'typed_bigint_id_seq',
  },
] as const;
const UUID_TENANTS = ['3f6c1a52-8d1e-4c3b-9a57-0c2d4e6f8a01', '9b2e7d40-1f3a-4e5c-8b6d-2a4c6e8f0b13'] as const;
const INT_TENANTS = ['1001', '1002'] as const;
const PARTITIONED = 'tenant_events';
const BY_TENANT = 'events_by_tenant';
const SEQUENCED = [
  ['serial_keyed', 'id serial PRIMARY KEY'],
  ['identity_keyed', 'id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY'],
] as const;

const DOMAIN_KEYED = 'domain_keyed';
const STAMPED = 'stamped_keyed';
const TOUCHED = 'touched_keyed';
const REF_KEYED = 'ref_keyed';
const NULL_ROWS = 'null_tenant_rows';
const ENUM_KEYED = 'enum_keyed';
const REVIEW_TABLES = [
  DOMAIN_KEYED,
  STAMPED,
  TOUCHED,
  REF_KEYED,
  NULL_ROWS,
  ENUM_KEYED,
  'fk_parent',
  'fk_mid',
  'fk_child',
];

function typedMatch(type: string): string {
  return `tenant_id = NULLIF(current_setting('${TENANT_SETTING}', true), '')::${type}`;
}

async function createTruthFixtures(db: SandboxDatabase): Promise<void> {
  const owner = `"${db.roles.owner}"`;
  const appUser = `"${db.roles.appUser}"`;
  const statements: string[] = [];
  const secure = (table: string, match: string) =>
    statements.push(
      `ALTER TABLE public.${table} OWNER TO ${owner}`,
      `ALTER TABLE public.${table} ENABLE ROW LEVEL SECURITY`,
      `CREATE POLICY ${table}_tenant ON public.${table} FOR ALL USING (${match})`,
      `GRANT SELECT, INSERT, UPDATE ON public.${table} TO ${appUser}`,
    );
  for (const { table, type, id, sequence } of TYPED) {
    statements.push(`CREATE TABLE public.${table} (${id}, tenant_id ${type} NOT NULL, note text NOT NULL)`);
    statements.push(`CREATE INDEX ON public.${table} (tenant_id)`);
    secure(table, typedMatch(type));
    // The platform grants its sequences: the old probe's INSERT then advanced them, for good.
    if (sequence !== null) statements.push(`GRANT USAGE, SELECT ON SEQUENCE public.${sequence} TO ${appUser}`);
  }
  for (const [tenant, other] of [UUID_TENANTS, INT_TENANTS]) {
    for (const { table, type } of TYPED) {
      if ((type === 'uuid') !== (tenant === UUID_TENANTS[0])) continue;
      statements.push(
        `INSERT INTO public.${table} (tenant_id, note) VALUES ('${tenant}', 'own'), ('${other}', 'peer')`,
      );
    }
  }
  // Partitioned by day: a row without happened_on routes nowhere, before any policy is consulted.
  statements.push(
    `CREATE TABLE public.${PARTITIONED} (id bigserial, tenant_id varchar(100) NOT NULL, happened_on date NOT NULL,
       body text, PRIMARY KEY (id, happened_on)) PARTITION BY RANGE (happened_on)`,
    `CREATE TABLE public.${PARTITIONED}_2026 PARTITION OF public.${PARTITIONED} FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
    `CREATE TABLE public.${PARTITIONED}_2027 PARTITION OF public.${PARTITIONED} FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')`,
    `CREATE INDEX ON public.${PARTITIONED} (tenant_id)`,
    `GRANT USAGE, SELECT ON SEQUENCE public.${PARTITIONED}_id_seq TO ${appUser}`,
    `INSERT INTO public.${PARTITIONED} (tenant_id, happened_on, body) VALUES
       ('${TENANT}', '2026-03-01', 'own'), ('${OTHER}', '2027-03-01', 'peer')`,
  );
  secure(PARTITIONED, MATCH);
  // Partitioned by tenant, with no partition for the other tenant: no write as it can be routed.
  statements.push(
    `CREATE TABLE public.${BY_TENANT} (tenant_id varchar(100) NOT NULL, body text) PARTITION BY LIST (tenant_id)`,
    `CREATE TABLE public.${BY_TENANT}_own PARTITION OF public.${BY_TENANT} FOR VALUES IN ('${TENANT}')`,
    `INSERT INTO public.${BY_TENANT} (tenant_id, body) VALUES ('${TENANT}', 'own')`,
  );
  secure(BY_TENANT, MATCH);
  // Text-keyed, ids from a sequence: a serial column and an identity column.
  for (const [table, id] of SEQUENCED) {
    statements.push(`CREATE TABLE public.${table} (${id}, tenant_id varchar(100) NOT NULL, note text NOT NULL)`);
    secure(table, MATCH);
    statements.push(
      `GRANT USAGE, SELECT ON SEQUENCE public.${table}_id_seq TO ${appUser}`,
      `INSERT INTO public.${table} (tenant_id, note) VALUES ('${TENANT}', 'own'), ('${OTHER}', 'peer')`,
    );
  }
  // Review findings: a domain CHECK on the tenant column, BEFORE ROW triggers (one setting the
  // tenant column from the context, one touching another column), a default calling a function
  // that calls nextval; for the read probe, visible rows without a tenant, an enum tenant
  // column, and a foreign-key chain with a nullable hop and a parent without a tenant.
  statements.push(
    `CREATE DOMAIN public.tenant_key AS varchar(100) CHECK (VALUE IN ('${TENANT}', '${OTHER}'))`,
    `CREATE TABLE public.${DOMAIN_KEYED} (id integer, tenant_id public.tenant_key NOT NULL, note text)`,
    `INSERT INTO public.${DOMAIN_KEYED} VALUES (1, '${TENANT}', 'own'), (2, '${OTHER}', 'peer')`,
    `CREATE FUNCTION public.set_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       NEW.tenant_id := current_setting('${TENANT_SETTING}');
       RETURN NEW;
     END $$`,
    `CREATE FUNCTION public.touch_note() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF NEW.tenant_id = 'nobody' THEN RETURN NULL; END IF;
       NEW.note = 'touched';
       RETURN NEW;
     END $$`,
    `CREATE TABLE public.${STAMPED} (id integer NOT NULL, tenant_id varchar(100) NOT NULL, note text)`,
    `INSERT INTO public.${STAMPED} VALUES (1, '${TENANT}', 'own'), (2, '${OTHER}', 'peer')`,
    `CREATE TRIGGER stamp_tenant BEFORE INSERT OR UPDATE ON public.${STAMPED} FOR EACH ROW EXECUTE FUNCTION public.set_tenant()`,
    `CREATE TABLE public.${TOUCHED} (id integer, tenant_id varchar(100) NOT NULL, note text)`,
    `CREATE TRIGGER touch BEFORE INSERT OR UPDATE ON public.${TOUCHED} FOR EACH ROW EXECUTE FUNCTION public.touch_note()`,
    `CREATE SEQUENCE public.ref_seq`,
    `GRANT USAGE, SELECT ON SEQUENCE public.ref_seq TO ${appUser}`,
    `CREATE FUNCTION public.next_ref() RETURNS text LANGUAGE sql AS $$ SELECT 'REF-' || nextval('public.ref_seq') $$`,
    `CREATE TABLE public.${REF_KEYED} (ref text NOT NULL DEFAULT public.next_ref(), tenant_id varchar(100) NOT NULL, note text)`,
    `INSERT INTO public.${REF_KEYED} (tenant_id, note) VALUES ('${TENANT}', 'own'), ('${OTHER}', 'peer')`,
    `CREATE TABLE public.${NULL_ROWS} (id integer PRIMARY KEY, tenant_id varchar(100), note text)`,
    `INSERT INTO public.${NULL_ROWS} VALUES (1, NULL, 'shared'), (2, '${TENANT}', 'own'), (3, '${OTHER}', 'peer')`,
    `CREATE TYPE public.tenant_enum AS ENUM ('${TENANT}', '${OTHER}')`,
    `CREATE TABLE public.${ENUM_KEYED} (id integer PRIMARY KEY, tenant_id public.tenant_enum NOT NULL)`,
    `INSERT INTO public.${ENUM_KEYED} VALUES (1, '${TENANT}'), (2, '${OTHER}')`,
    `CREATE TABLE public.fk_parent (id integer PRIMARY KEY, tenant_id varchar(100))`,
    `CREATE TABLE public.fk_mid (id integer PRIMARY KEY, parent_id integer REFERENCES public.fk_parent (id))`,
    `CREATE TABLE public.fk_child (id integer PRIMARY KEY, mid_id integer NOT NULL REFERENCES public.fk_mid (id))`,
    `INSERT INTO public.fk_parent VALUES (1, '${TENANT}'), (2, NULL), (3, '${OTHER}')`,
    `INSERT INTO public.fk_mid VALUES (10, 1), (20, 2), (30, NULL), (40, 3)`,
    `INSERT INTO public.fk_child VALUES (100, 10), (200, 20), (300, 30), (400, 40)`,
  );
  for (const table of [DOMAIN_KEYED, STAMPED, TOUCHED, REF_KEYED]) secure(table, MATCH);
  statements.push(`INSERT INTO public.${TOUCHED} VALUES (1, '${TENANT}', 'own'), (2, '${OTHER}', 'peer')`);
  // Visible rows without a tenant, and (the hole) every other tenant's rows too.
  secure(NULL_ROWS, 'true');
  secure(ENUM_KEYED, `tenant_id::text = current_setting('${TENANT_SETTING}', true)`);
  secure('fk_parent', `tenant_id IS NULL OR ${MATCH}`);
  secure('fk_mid', 'parent_id IS NULL OR EXISTS (SELECT 1 FROM public.fk_parent p WHERE p.id = parent_id)');
  secure('fk_child', 'EXISTS (SELECT 1 FROM public.fk_mid m WHERE m.id = mid_id)');
  for (const statement of statements) await db.admin(statement);
}

/** Every row of the fixtures and of the sandbox's tables, as the superuser sees them. */
async function everyRow(db: SandboxDatabase): Promise<string[]> {
  const out = await allRows(db);
  for (const table of [
    ...TYPED.map((t) => t.table),
    PARTITIONED,
    BY_TENANT,
    ...SEQUENCED.map(([t]) => t),
    ...REVIEW_TABLES,
  ]) {
    const { rows } = await db.admin(`SELECT to_jsonb(t)::text AS row FROM public.${table} t ORDER BY 1`);
    out.push(...(rows as { row: string }[]).map((r) => `${table} ${r.row}`));
  }
  return out;
}

/** Every sequence's state: a refused INSERT must not have advanced one. */
async function sequences(db: SandboxDatabase): Promise<string[]> {
  const { rows } = await db.admin(
    `SELECT schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, 'unused') AS s FROM pg_sequences ORDER BY 1`,
  );
  const out = (rows as { s: string }[]).map((r) => r.s);
  const names = [
    ...TYPED.flatMap((t) => (t.sequence === null ? [] : [t.sequence])),
    `${PARTITIONED}_id_seq`,
    ...SEQUENCED.map(([t]) => `${t}_id_seq`),
    'ref_seq',
  ];
  for (const name of names) {
    const { rows: state } = await db.admin(`SELECT last_value, is_called FROM public.${name}`);
    out.push(`${name} ${JSON.stringify(state[0])}`);
  }
  return out;
}

/**
 * Issue 23, "Write verdicts that are true": a write the probe may not make is not a refusal; a
 * row that cannot be routed to a partition is not a permitted write; uuid, integer and bigint
 * tenant columns are written in their own type; and a refused INSERT advances no sequence.
 */
function truthSuite(name: string, url: string | undefined) {
  describe(`rls.cross_tenant_write verdicts are PostgreSQL's (${name})`, () => {
    let db: SandboxDatabase;

    beforeAll(async () => {
      db = await startDatabase({ ...(url ? { databaseUrl: url } : {}), log: () => {} });
      await seedOneRowEach(db, [TENANT, OTHER]);
      await createTruthFixtures(db);
    }, 120_000);
    afterAll(async () => {
      await db?.stop();
    });

    const probe = async (
      tenants: readonly string[],
      tables: readonly string[],
      checkId: 'rls.cross_tenant_write' | 'rls.cross_tenant_read' = 'rls.cross_tenant_write',
    ): Promise<CheckResult> => {
      const config = parseConfig({
        platform: { baseUrl: 'http://127.0.0.1:9' },
        database: databaseSection(db, {
          contextFunction: null,
          tenantTables: [...tables],
          discover: { enabled: false },
        }),
        tenants: tenants.map((tenantId) => ({ tenantId, signingSecret: { value: 'unused' } })),
      });
      const before = { rows: await everyRow(db), sequences: await sequences(db) };
      const report = await runWithPorts(openPorts, {
        config,
        secrets: createSecretResolver({ env: {} }),
        filters: { tenantIds: [tenants[0]!], checkIds: [checkId], platform: false },
      });
      const [result] = report.results;
      if (!result) throw new Error('no result');
      // No trace: no row changed, no sequence advanced (nextval is not rolled back).
      expect(await everyRow(db)).toEqual(before.rows);
      expect(await sequences(db)).toEqual(before.sequences);
      return result;
    };
    const verdicts = (result: CheckResult) =>
      (result.evidence.attempts as { table: string; attempt: string; verdict: string }[]).map(
        (a) => `${a.table} ${a.attempt.startsWith('move') ? 'move' : 'insert'} ${a.verdict}`,
      );
    const withPolicy = async (table: string, clauses: string, run: () => Promise<void>) => {
      await db.admin(`CREATE POLICY truth_open ON public.${table} ${clauses}`);
      try {
        await run();
      } finally {
        await db.admin(`DROP POLICY truth_open ON public.${table}`);
      }
    };

    it('a table the probe role may not write is not proven, never refused: error P2 naming it and the GRANT', async () => {
      // As on the platform: app_user holds no INSERT or UPDATE on ticket_history and system_inventory.
      await db.admin(
        `REVOKE INSERT, UPDATE ON public.ticket_history, public.system_inventory FROM "${db.roles.appUser}"`,
      );
      try {
        const result = await probe([TENANT, OTHER], TENANT_TABLES);
        expect(result).toMatchObject({ status: 'error', tier: 'P2' });
        expect(verdicts(result)).toEqual([
          'tenant_configs move refused',
          'tenant_configs insert refused',
          'enhancement_history move refused',
          'enhancement_history insert refused',
          'ticket_history move not-proven',
          'ticket_history insert not-proven',
          'system_inventory move not-proven',
          'system_inventory insert not-proven',
        ]);
        const role = (result.evidence.missingGrants as { grant: string }[])[0]!.grant.split(' TO ')[1];
        expect(result.summary).toContain('ticket_history');
        expect(result.summary).toContain('system_inventory');
        expect(result.summary).toContain(`GRANT INSERT, UPDATE ON "ticket_history" TO ${role}`);
        expect(result.summary).toContain(`GRANT INSERT, UPDATE ON "system_inventory" TO ${role}`);
        expect(result.summary).not.toMatch(/every write .* is refused/);

        // Another table that lets the write through still makes it a fail.
        await withPolicy('enhancement_history', `FOR ALL USING (${MATCH}) WITH CHECK (true)`, async () => {
          const failing = await probe([TENANT, OTHER], TENANT_TABLES);
          expect(failing).toMatchObject({ status: 'fail', tier: 'P0' });
          expect(verdicts(failing)).toContain('enhancement_history insert permitted');
          expect(verdicts(failing)).toContain('ticket_history insert not-proven');
          expect(failing.summary).toContain('not proven either way in ticket_history, system_inventory');
        });
      } finally {
        await db.admin(
          `GRANT INSERT, UPDATE ON public.ticket_history, public.system_inventory TO "${db.roles.appUser}"`,
        );
      }
    });

    it('a correctly isolated partitioned table passes: the insert is routed, not taken for a permitted write', async () => {
      const result = await probe([TENANT, OTHER], [PARTITIONED]);
      expect(verdicts(result)).toEqual([`${PARTITIONED} move refused`, `${PARTITIONED} insert refused`]);
      expect(result).toMatchObject({ status: 'pass', tier: null });
    });

    it('a partitioned table whose policy lets the write through fails P0, both ways', async () => {
      await withPolicy(PARTITIONED, `FOR ALL USING (${MATCH}) WITH CHECK (true)`, async () => {
        const result = await probe([TENANT, OTHER], [PARTITIONED]);
        expect(verdicts(result)).toEqual([`${PARTITIONED} move permitted`, `${PARTITIONED} insert permitted`]);
        expect(result).toMatchObject({ status: 'fail', tier: 'P0' });
      });
    });

    it('a partitioned table with no partition for the other tenant: not proven (error P2), never permitted', async () => {
      const result = await probe([TENANT, OTHER], [BY_TENANT]);
      expect(verdicts(result)).toEqual([`${BY_TENANT} move not-proven`, `${BY_TENANT} insert not-proven`]);
      expect(result).toMatchObject({ status: 'error', tier: 'P2' });
      expect(result.summary).toContain(`no partition of relation "${BY_TENANT}" found for row`);
    });

    it('serial and identity id columns: a refused INSERT advances no sequence (and a real refusal still passes)', async () => {
      const tables = SEQUENCED.map(([t]) => t);
      const result = await probe([TENANT, OTHER], tables);
      expect(verdicts(result)).toEqual(tables.flatMap((t) => [`${t} move refused`, `${t} insert refused`]));
      expect(result).toMatchObject({ status: 'pass', tier: null });
      // probe() compared every sequence before and after; and the identity's stayed at the seed's 2.
      const { rows } = await db.admin('SELECT last_value, is_called FROM public.identity_keyed_id_seq');
      expect(rows).toEqual([{ last_value: '2', is_called: true }]);
    });

    it('serial and identity id columns: a policy that lets the insert through fails P0, sequences unchanged', async () => {
      await withPolicy('serial_keyed', 'FOR INSERT WITH CHECK (true)', async () => {
        const result = await probe(
          [TENANT, OTHER],
          SEQUENCED.map(([t]) => t),
        );
        expect(verdicts(result)).toContain('serial_keyed insert permitted');
        expect(result).toMatchObject({ status: 'fail', tier: 'P0' });
      });
    });

    it('a domain CHECK refusing the other tenant is not proven (error P2), never permitted', async () => {
      // One tenant configured: the placeholder other tenant is not a value of the domain.
      const result = await probe([TENANT], [DOMAIN_KEYED]);
      expect(verdicts(result)).toEqual([`${DOMAIN_KEYED} move not-proven`, `${DOMAIN_KEYED} insert not-proven`]);
      expect(result).toMatchObject({ status: 'error', tier: 'P2' });
      expect(result.summary).toContain('value for domain');
      // With a value the domain admits, the policy is asked and refuses.
      const both = await probe([TENANT, OTHER], [DOMAIN_KEYED]);
      expect(verdicts(both)).toEqual([`${DOMAIN_KEYED} move refused`, `${DOMAIN_KEYED} insert refused`]);
      expect(both).toMatchObject({ status: 'pass', tier: null });
    });

    it('a BEFORE ROW trigger setting the tenant from the context is not a permitted write: not proven, naming it', async () => {
      const result = await probe([TENANT, OTHER], [STAMPED]);
      expect(verdicts(result)).toEqual([`${STAMPED} move not-proven`, `${STAMPED} insert not-proven`]);
      expect(result).toMatchObject({ status: 'error', tier: 'P2' });
      expect(result.summary).toContain('stamp_tenant');
      // The trigger even keeps an open WITH CHECK from writing another tenant's row.
      await withPolicy(STAMPED, 'FOR ALL USING (true) WITH CHECK (true)', async () => {
        const open = await probe([TENANT, OTHER], [STAMPED]);
        expect(verdicts(open)).toEqual([`${STAMPED} move not-proven`, `${STAMPED} insert not-proven`]);
      });
    });

    it('a BEFORE ROW trigger that leaves the tenant alone: a real hole still fails P0, an isolated table passes', async () => {
      const isolated = await probe([TENANT, OTHER], [TOUCHED]);
      expect(verdicts(isolated)).toEqual([`${TOUCHED} move refused`, `${TOUCHED} insert refused`]);
      await db.admin(`DROP POLICY ${TOUCHED}_tenant ON public.${TOUCHED}`);
      try {
        await withPolicy(TOUCHED, `FOR ALL USING (${MATCH}) WITH CHECK (true)`, async () => {
          const result = await probe([TENANT, OTHER], [TOUCHED]);
          expect(verdicts(result)).toEqual([`${TOUCHED} move permitted`, `${TOUCHED} insert permitted`]);
          expect(result).toMatchObject({ status: 'fail', tier: 'P0' });
        });
        await withPolicy(TOUCHED, 'FOR ALL USING (true) WITH CHECK (true)', async () => {
          const result = await probe([TENANT, OTHER], [TOUCHED]);
          expect(verdicts(result)).toEqual([`${TOUCHED} move permitted`, `${TOUCHED} insert permitted`]);
        });
      } finally {
        await db.admin(`CREATE POLICY ${TOUCHED}_tenant ON public.${TOUCHED} FOR ALL USING (${MATCH})`);
      }
    });

    it('a default calling a function that calls nextval: a refused INSERT advances no sequence', async () => {
      // probe() compares every sequence (ref_seq among them) before and after.
      const result = await probe([TENANT, OTHER], [REF_KEYED]);
      expect(verdicts(result)).toEqual([`${REF_KEYED} move refused`, `${REF_KEYED} insert refused`]);
      expect(result).toMatchObject({ status: 'pass', tier: null });
    });

    it('cross_tenant_read: visible rows without a tenant do not hide another tenant visible after them', async () => {
      const result = await probe([TENANT, OTHER], [NULL_ROWS], 'rls.cross_tenant_read');
      expect(result).toMatchObject({ status: 'fail', tier: 'P0' });
      expect(result.summary).toContain(`${NULL_ROWS} (e.g. tenant ${OTHER})`);
    });

    it('cross_tenant_read: a table it could not compare (an enum tenant column) is not proven, never a pass', async () => {
      const result = await probe([TENANT, OTHER], ['tenant_configs', ENUM_KEYED], 'rls.cross_tenant_read');
      expect(result).toMatchObject({ status: 'error', tier: 'P2' });
      expect(result.summary).toContain(ENUM_KEYED);
      expect(result.summary).not.toContain('only its own rows');
    });

    it('cross_tenant_read: a NULL foreign key mid-path or a parent without a tenant is no other tenant', async () => {
      const result = await probe([TENANT, OTHER], ['fk_parent', 'fk_mid', 'fk_child'], 'rls.cross_tenant_read');
      const tables = result.evidence.tables as { table: string; found: string; otherTenantSeen: string | null }[];
      expect(tables.map((t) => [t.table, t.found, t.otherTenantSeen])).toEqual([
        ['fk_parent', 'column', null],
        ['fk_mid', 'fk', null],
        ['fk_child', 'fk', null],
      ]);
      expect(result).toMatchObject({ status: 'pass', tier: null });
      // And a child whose parent is hidden (400 → 40 → globex's 3) is still another tenant's.
      try {
        await db.admin(`DROP POLICY fk_child_tenant ON public.fk_child`);
        await db.admin(`CREATE POLICY fk_child_tenant ON public.fk_child FOR ALL USING (true)`);
        const leak = await probe([TENANT, OTHER], ['fk_parent', 'fk_mid', 'fk_child'], 'rls.cross_tenant_read');
        expect(leak).toMatchObject({ status: 'fail', tier: 'P0' });
        expect(leak.summary).toContain('fk_child (e.g. (a row whose parent row is not visible))');
      } finally {
        await db.admin(`DROP POLICY fk_child_tenant ON public.fk_child`);
        await db.admin(
          `CREATE POLICY fk_child_tenant ON public.fk_child FOR ALL USING (EXISTS (SELECT 1 FROM public.fk_mid m WHERE m.id = mid_id))`,
        );
      }
    });

    const typedCases = [
      { tenants: UUID_TENANTS, tables: ['typed_uuid'] },
      { tenants: INT_TENANTS, tables: ['typed_int', 'typed_bigint'] },
    ];
    for (const { tenants, tables } of typedCases) {
      const types = TYPED.filter((t) => tables.includes(t.table)).map((t) => t.type);
      it(`${types.join(' and ')} tenant columns (serial and identity ids): isolated passes, sequences unchanged`, async () => {
        const result = await probe(tenants, tables);
        expect(verdicts(result)).toEqual(tables.flatMap((t) => [`${t} move refused`, `${t} insert refused`]));
        expect(result).toMatchObject({ status: 'pass', tier: null });
      });

      it(`${types.join(' and ')} tenant columns: a policy that lets the write through fails P0`, async () => {
        const table = tables.at(-1)!;
        const type = TYPED.find((t) => t.table === table)!.type;
        await withPolicy(table, `FOR ALL USING (${typedMatch(type)}) WITH CHECK (true)`, async () => {
          const result = await probe(tenants, tables);
          expect(verdicts(result)).toEqual(
            tables.flatMap((t) =>
              t === table
                ? [`${t} move permitted`, `${t} insert permitted`]
                : [`${t} move refused`, `${t} insert refused`],
            ),
          );
          expect(result).toMatchObject({ status: 'fail', tier: 'P0' });
        });
      });
    }
  });
}

writeSuite('PGlite', undefined);
truthSuite('PGlite', undefined);
const realUrl = databaseUrl();
if (realUrl) {
  writeSuite('PostgreSQL', realUrl);
  truthSuite('PostgreSQL', realUrl);
}
