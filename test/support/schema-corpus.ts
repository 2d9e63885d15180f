/**
 * Schemas as real multi-tenant projects write them, for test/integration/rls-corpus.test.ts:
 * the watched platform as its migrations leave it (PLATFORM.md, "The schema as its migrations
 * leave it"), the same after the fixes a platform team would make, and schemas written after
 * patterns found in public multi-tenant code (each cites the file it follows; the SQL is ours).
 * Each says exactly what every isolation check must report on it.
 *
 * Role names are tokens (`{app}`, `{app_user}`, `{owner}`, `{probe}`, `{admin}`): cluster-wide on
 * a real PostgreSQL, so the test suffixes them there. Every login on PGlite is the superuser,
 * and session state is shared by its one backend: the SQL never changes the session (no SET
 * ROLE), it hands tables to their owner with ALTER ... OWNER.
 */
import type { CheckId } from '../../functions/core/catalog.ts';
import type { Tier } from '../../functions/core/types.ts';

export const ROLE_TOKENS = ['app', 'app_user', 'owner', 'probe', 'admin'] as const;
export type RoleToken = (typeof ROLE_TOKENS)[number];

export interface Expected {
  status: 'pass' | 'fail' | 'error' | 'skipped';
  tier?: Tier | null;
  /** Tables the summary must name (each). */
  names?: string[];
  /** A subset of the evidence. */
  evidence?: Record<string, unknown>;
}

export interface CorpusFixture {
  name: string;
  /** The public code the schema follows (repository and path), or PLATFORM.md. */
  after: string;
  tenants: [string, string];
  /** Schema, roles, grants and one or more rows per tenant, run as the superuser. */
  sql: string;
  /** The canary's `database` section (url, appRole and probeAsRole are filled in by the test). */
  database: Record<string, unknown>;
  /** What discovery must find: table → `column`, or the fk path. */
  discovered: Record<string, 'column' | 'configured' | string[]>;
  /** What each isolation check must report (tenant checks: for each tenant). */
  expect: Partial<Record<CheckId, Expected>>;
}

/** Hands every table of `schemas` to `owner` (sequences of serial columns follow their table). */
const ownAll = (owner: string, schemas = ['public']) => `
DO $own$ DECLARE r record; BEGIN
  FOR r IN SELECT c.oid::regclass AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname IN (${schemas.map((s) => `'${s}'`).join(', ')}) AND c.relkind IN ('r', 'p') LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO ${owner}', r.t);
  END LOOP;
END $own$;`;

const ISOLATION_PASSES: Partial<Record<CheckId, Expected>> = {
  'rls.cross_tenant_write': { status: 'pass' },
  'rls.tables_enabled': { status: 'pass' },
  'rls.policies_present': { status: 'pass' },
  'rls.app_role_enforced': { status: 'pass' },
  'canary.probe_role_safe': { status: 'pass' },
  'rls.no_context_denied': { status: 'pass' },
  'rls.cross_tenant_read': { status: 'pass' },
  'rls.views_respect_rls': { status: 'pass' },
  'rls.partitions_covered': { status: 'pass' },
  'rls.definer_functions': { status: 'pass' },
  'rls.isolation_snapshot': { status: 'skipped' },
};

// ---------------------------------------------------------------------------------------------
// The platform (PLATFORM.md)

const PLATFORM_COLUMN_TABLES = [
  'tenant_configs',
  'enhancement_history',
  'ticket_history',
  'system_inventory',
  'enhancement_feedback',
  'agents',
  'agent_memory',
  'agent_prompt_templates',
  'agent_test_executions',
  'audit_log',
  'budget_alert_history',
  'budget_overrides',
  'mcp_servers',
  'mcp_server_metrics',
  'openapi_tools',
  'user_tenant_roles',
];
const PLATFORM_FK_TABLES = ['agent_tools', 'agent_triggers', 'agent_prompt_versions'];
const PLATFORM_RLS_TABLES = [
  'tenant_configs',
  'enhancement_history',
  'ticket_history',
  'system_inventory',
  'enhancement_feedback',
];
const PLATFORM_WITHOUT_RLS = [...PLATFORM_COLUMN_TABLES, ...PLATFORM_FK_TABLES]
  .filter((t) => !PLATFORM_RLS_TABLES.includes(t))
  .sort();

const PLATFORM_DISCOVERED: CorpusFixture['discovered'] = Object.fromEntries([
  ...PLATFORM_COLUMN_TABLES.map((t) => [t, 'column'] as const),
  ...PLATFORM_FK_TABLES.map((t) => [t, [t, 'agents']] as const),
]);

/** The platform's tables as its alembic chain leaves them (columns cut to what isolation needs, plus a few). */
const PLATFORM_TABLES = `
CREATE TABLE tenant_configs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL UNIQUE,
  name varchar(255) NOT NULL,
  servicedesk_url varchar(500),
  servicedesk_api_key_encrypted text,
  webhook_signing_secret_encrypted text,
  enhancement_preferences json NOT NULL DEFAULT '{}',
  rate_limits json NOT NULL DEFAULT '{}',
  is_active boolean NOT NULL DEFAULT true,
  tool_type varchar(50) NOT NULL DEFAULT 'servicedesk_plus',
  jira_url varchar(500), jira_project_key varchar(50), jira_api_token_encrypted text,
  litellm_virtual_key text, max_budget numeric, alert_threshold integer, grace_threshold integer,
  budget_duration varchar(20), byok_enabled boolean NOT NULL DEFAULT false, byok_provider_keys_encrypted text,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE enhancement_history (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  ticket_id varchar(100) NOT NULL, status varchar(20) NOT NULL DEFAULT 'pending',
  context_gathered json, llm_output text, error_message text, processing_time_ms integer,
  created_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz
);
CREATE INDEX ix_enhancement_history_tenant_status_created ON enhancement_history (tenant_id, status, created_at DESC);
CREATE TABLE ticket_history (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  ticket_id varchar(100) NOT NULL, description text, resolution text, resolved_date timestamptz,
  source varchar(50) NOT NULL DEFAULT 'bulk_import', created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, ticket_id)
);
CREATE TABLE system_inventory (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  ip_address varchar(45) NOT NULL, hostname varchar(255), role varchar(100),
  UNIQUE (tenant_id, ip_address)
);
CREATE TABLE enhancement_feedback (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  ticket_id varchar(100) NOT NULL, enhancement_id uuid REFERENCES enhancement_history (id),
  feedback_type varchar(20) NOT NULL, rating integer, comment text, created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE agents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  name varchar(255) NOT NULL, status varchar(20) NOT NULL DEFAULT 'draft', system_prompt text,
  webhook_secret_encrypted text, created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_agents_tenant_id ON agents (tenant_id);
CREATE TABLE agent_memory (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL, agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  memory_type varchar(50) NOT NULL, content text, created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE agent_prompt_templates (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL, name varchar(255) NOT NULL, template_text text NOT NULL
);
CREATE TABLE agent_test_executions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL, agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  status varchar(20) NOT NULL, result json
);
CREATE TABLE audit_log (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL, user_id uuid, action varchar(100) NOT NULL, details json,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE budget_alert_history (
  id serial PRIMARY KEY,
  tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  alert_type varchar(50) NOT NULL, spend numeric, created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE budget_overrides (
  id serial PRIMARY KEY,
  tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  override_amount numeric NOT NULL, reason text, expires_at timestamptz
);
CREATE TABLE mcp_servers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  name varchar(255) NOT NULL, transport_type varchar(20) NOT NULL, url text, env json
);
CREATE TABLE mcp_server_metrics (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL, mcp_server_id uuid NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
  metric varchar(50) NOT NULL, value numeric
);
CREATE TABLE openapi_tools (
  id serial PRIMARY KEY,
  tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  tool_name varchar(255) NOT NULL, openapi_spec json NOT NULL DEFAULT '{}'
);
CREATE TABLE user_tenant_roles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL, tenant_id varchar(100) NOT NULL REFERENCES tenant_configs (tenant_id),
  role varchar(50) NOT NULL
);
CREATE TABLE agent_tools (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE, tool_name varchar(255) NOT NULL
);
CREATE TABLE agent_triggers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE, trigger_type varchar(50) NOT NULL
);
CREATE TABLE agent_prompt_versions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE, version integer NOT NULL, prompt text
);
`;

/** Rows for one tenant in every platform table (agent ids derived so children can point at them). */
function platformRows(tenant: string, n: number): string {
  const agent = `'00000000-0000-4000-8000-00000000000${n}'::uuid`;
  const server = `'00000000-0000-4000-9000-00000000000${n}'::uuid`;
  return `
INSERT INTO tenant_configs (tenant_id, name, servicedesk_url) VALUES ('${tenant}', '${tenant}', 'https://sd.example');
INSERT INTO enhancement_history (tenant_id, ticket_id, status) VALUES ('${tenant}', 'REQ-1', 'completed');
INSERT INTO ticket_history (tenant_id, ticket_id, description) VALUES ('${tenant}', 'REQ-1', 'printer jam');
INSERT INTO system_inventory (tenant_id, ip_address) VALUES ('${tenant}', '10.0.0.${n}');
INSERT INTO enhancement_feedback (tenant_id, ticket_id, feedback_type) VALUES ('${tenant}', 'REQ-1', 'thumbs_up');
INSERT INTO agents (id, tenant_id, name) VALUES (${agent}, '${tenant}', 'triage');
INSERT INTO agent_memory (tenant_id, agent_id, memory_type) VALUES ('${tenant}', ${agent}, 'short_term');
INSERT INTO agent_prompt_templates (tenant_id, name, template_text) VALUES ('${tenant}', 'default', 'Hello');
INSERT INTO agent_test_executions (tenant_id, agent_id, status) VALUES ('${tenant}', ${agent}, 'passed');
INSERT INTO audit_log (tenant_id, action) VALUES ('${tenant}', 'login');
INSERT INTO budget_alert_history (tenant_id, alert_type) VALUES ('${tenant}', 'threshold');
INSERT INTO budget_overrides (tenant_id, override_amount) VALUES ('${tenant}', 10);
INSERT INTO mcp_servers (id, tenant_id, name, transport_type) VALUES (${server}, '${tenant}', 'files', 'stdio');
INSERT INTO mcp_server_metrics (tenant_id, mcp_server_id, metric) VALUES ('${tenant}', ${server}, 'calls');
INSERT INTO openapi_tools (tenant_id, tool_name) VALUES ('${tenant}', 'weather');
INSERT INTO user_tenant_roles (user_id, tenant_id, role) VALUES (gen_random_uuid(), '${tenant}', 'admin');
INSERT INTO agent_tools (agent_id, tool_name) VALUES (${agent}, 'search');
INSERT INTO agent_triggers (agent_id, trigger_type) VALUES (${agent}, 'webhook');
INSERT INTO agent_prompt_versions (agent_id, version, prompt) VALUES (${agent}, 1, 'v1');`;
}

/** set_tenant_context as the platform's migration writes it: definer, no search_path, session scope. */
const PLATFORM_CONTEXT_FUNCTION = `
CREATE FUNCTION set_tenant_context(p_tenant_id varchar) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
  v_tenant varchar;
BEGIN
  SELECT tenant_id INTO v_tenant FROM tenant_configs
   WHERE is_active AND (tenant_id = p_tenant_id OR id::text = p_tenant_id);
  IF v_tenant IS NULL THEN
    RAISE EXCEPTION 'Invalid tenant_id value';
  END IF;
  PERFORM set_config('app.current_tenant_id', v_tenant, false);
END;
$fn$;`;

const EARLY_POLICY = `tenant_id = current_setting('app.current_tenant_id')::varchar`;
const COALESCE_POLICY = `tenant_id = COALESCE(current_setting('app.current_tenant_id', true), '')`;

const PLATFORM_TENANTS: [string, string] = ['acme-corp', 'globex'];

const platformAsMigrated: CorpusFixture = {
  name: 'the platform as its migrations leave it',
  after: 'PLATFORM.md, "The schema as its migrations leave it" (github nullbytes-app/AiOps, alembic heads)',
  tenants: PLATFORM_TENANTS,
  sql: `
CREATE ROLE {app} SUPERUSER NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {admin} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {probe};
${PLATFORM_TABLES}
ALTER TABLE tenant_configs ENABLE ROW LEVEL SECURITY;
ALTER TABLE enhancement_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE system_inventory ENABLE ROW LEVEL SECURITY;
ALTER TABLE enhancement_feedback ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON tenant_configs FOR ALL USING (${EARLY_POLICY}) WITH CHECK (${EARLY_POLICY});
CREATE POLICY tenant_isolation_policy ON enhancement_history FOR ALL USING (${EARLY_POLICY}) WITH CHECK (${EARLY_POLICY});
CREATE POLICY tenant_configs_tenant_isolation_policy ON tenant_configs FOR ALL USING (${COALESCE_POLICY});
CREATE POLICY enhancement_history_tenant_isolation_policy ON enhancement_history FOR ALL USING (${COALESCE_POLICY});
CREATE POLICY ticket_history_tenant_isolation_policy ON ticket_history FOR ALL USING (${COALESCE_POLICY});
CREATE POLICY system_inventory_tenant_isolation_policy ON system_inventory FOR ALL USING (${COALESCE_POLICY});
CREATE POLICY tenant_isolation_policy ON enhancement_feedback FOR ALL USING (${EARLY_POLICY}) WITH CHECK (${EARLY_POLICY});
GRANT SELECT, INSERT, UPDATE ON tenant_configs, enhancement_history TO {app_user};
GRANT SELECT, INSERT, UPDATE, DELETE ON enhancement_feedback TO {app_user};
GRANT ALL ON tenant_configs, enhancement_history, ticket_history, system_inventory TO {admin};
${PLATFORM_CONTEXT_FUNCTION}
ALTER FUNCTION set_tenant_context(varchar) OWNER TO {app};
${ownAll('{app}')}
${platformRows('acme-corp', 1)}
${platformRows('globex', 2)}
`,
  database: {
    tenantTables: ['tenant_configs', 'enhancement_history', 'ticket_history', 'system_inventory'],
    tenantSetting: 'app.current_tenant_id',
    contextFunction: 'set_tenant_context',
  },
  discovered: PLATFORM_DISCOVERED,
  expect: {
    'rls.tables_enabled': {
      status: 'fail',
      tier: 'P0',
      names: PLATFORM_WITHOUT_RLS,
      evidence: { disabled: PLATFORM_WITHOUT_RLS },
    },
    'rls.policies_present': {
      status: 'fail',
      tier: 'P0',
      names: PLATFORM_WITHOUT_RLS,
      evidence: { withoutTenantPolicy: PLATFORM_WITHOUT_RLS },
    },
    'rls.app_role_enforced': { status: 'fail', tier: 'P0', names: ['is a superuser'] },
    'rls.cross_tenant_write': { status: 'error', tier: 'P2' },
    'canary.probe_role_safe': { status: 'pass' },
    // app_user may read 3 of the 19 tables: the rest is not proven, never "denied".
    'rls.no_context_denied': { status: 'error', tier: 'P2', names: ['ticket_history', 'agent_tools', 'GRANT SELECT'] },
    'rls.cross_tenant_read': { status: 'error', tier: 'P2', names: ['system_inventory', 'audit_log', 'GRANT SELECT'] },
    'rls.views_respect_rls': { status: 'pass' },
    'rls.partitions_covered': { status: 'pass' },
    'rls.definer_functions': { status: 'fail', tier: 'P2', names: ['set_tenant_context', 'search_path'] },
    'rls.context_scope': { status: 'fail', tier: 'P2' },
    'rls.context_function': { status: 'pass' },
    'rls.isolation_snapshot': { status: 'skipped' },
  },
};

const platformFixed: CorpusFixture = {
  name: 'the platform after the fixes a platform team would make',
  after:
    'PLATFORM.md, with every tenant table under RLS and granted, a transaction-scoped context function with a pinned search_path, and the application on its own role',
  tenants: PLATFORM_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
${PLATFORM_TABLES}
${PLATFORM_COLUMN_TABLES.map(
  (t) => `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;
CREATE POLICY ${t}_tenant_isolation_policy ON ${t} FOR ALL USING (${COALESCE_POLICY});`,
).join('\n')}
${PLATFORM_FK_TABLES.map(
  (t) => `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;
CREATE POLICY ${t}_tenant_isolation_policy ON ${t} FOR ALL USING (agent_id IN (SELECT id FROM agents));`,
).join('\n')}
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_user};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app_user};
CREATE FUNCTION set_tenant_context(p_tenant_id varchar) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_tenant varchar;
BEGIN
  SELECT tenant_id INTO v_tenant FROM tenant_configs
   WHERE is_active AND (tenant_id = p_tenant_id OR id::text = p_tenant_id);
  IF v_tenant IS NULL THEN
    RAISE EXCEPTION 'Invalid tenant_id value';
  END IF;
  PERFORM set_config('app.current_tenant_id', v_tenant, true);
END;
$fn$;
ALTER FUNCTION set_tenant_context(varchar) OWNER TO {owner};
REVOKE ALL ON FUNCTION set_tenant_context(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION set_tenant_context(varchar) TO {app_user};
${ownAll('{owner}')}
${platformRows('acme-corp', 1)}
${platformRows('globex', 2)}
`,
  database: {
    tenantTables: ['tenant_configs', 'enhancement_history', 'ticket_history', 'system_inventory'],
    tenantSetting: 'app.current_tenant_id',
    contextFunction: 'set_tenant_context',
  },
  discovered: PLATFORM_DISCOVERED,
  expect: {
    ...ISOLATION_PASSES,
    'rls.policies_present': {
      status: 'pass',
      evidence: {
        tables: expectFound('agent_tools', {
          readsSetting: true,
          how: 'through a subquery over agents, itself under RLS',
        }),
      },
    },
    'rls.context_scope': { status: 'pass' },
    'rls.context_function': { status: 'pass' },
  },
};

/** `expect.arrayContaining` without importing vitest here: the test turns the marker into one. */
function expectFound(table: string, fields: Record<string, unknown>): { containing: Record<string, unknown>[] } {
  return { containing: [{ table, ...fields }] };
}

// ---------------------------------------------------------------------------------------------
// Public patterns

const UUID_TENANTS: [string, string] = ['3f2b8c1e-6a4d-4e5f-9a1b-2c3d4e5f6a7b', '9e8d7c6b-5a49-4382-8170-6f5e4d3c2b1a'];

/** Helpers: an SQL function reading the setting, a plpgsql one on top, and one that builds the setting's name. */
const helperFunctions: CorpusFixture = {
  name: 'policies through SQL and plpgsql helper functions, uuid keys',
  after:
    'norpactech/pareto-db Scripts/utils/test/multi-tenancy.sql (uuid tenant keys, current_setting per policy); zarybnicky/Sirimbo schema.split/functions/public.is_current_tenant_member().sql (an SQL helper calling current_tenant_id())',
  tenants: UUID_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO {app_user};
CREATE FUNCTION app.get_tenant() RETURNS text LANGUAGE sql STABLE
  AS $fn$ SELECT NULLIF(current_setting('app.current_tenant', true), '') $fn$;
CREATE FUNCTION app.current_tenant_id() RETURNS uuid LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN app.get_tenant()::uuid;
END;
$fn$;
CREATE FUNCTION app.is_current_tenant(t uuid) RETURNS boolean LANGUAGE sql STABLE
  AS $fn$ SELECT t = app.current_tenant_id() $fn$;
CREATE FUNCTION app.tenant_guc() RETURNS text LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  k text := 'app.' || 'current_tenant';
BEGIN
  RETURN NULLIF(current_setting(k, true), '');
END;
$fn$;
-- The context function takes the tenant as its own type (uuid), transaction-scoped, in a schema
-- off the search_path: configured schema-qualified (app.set_current_tenant).
CREATE FUNCTION app.set_current_tenant(p_tenant uuid) RETURNS void LANGUAGE sql SET search_path = public, pg_temp
  AS $fn$ SELECT set_config('app.current_tenant', p_tenant::text, true) $fn$;
CREATE TABLE tenants (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE projects (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL REFERENCES tenants (id), name text);
CREATE INDEX ON projects (tenant_id);
CREATE TABLE documents (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL REFERENCES tenants (id), body text);
-- A domain over uuid as the tenant column's type: compared in its base type.
CREATE DOMAIN app.tenant_key AS uuid NOT NULL;
CREATE TABLE memberships (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id app.tenant_key REFERENCES tenants (id), user_email text);
CREATE TABLE audit_events (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL REFERENCES tenants (id), action text);
-- The registry points back at a tenant table (who created the tenant): it stays the registry,
-- not a tenant table found by foreign key.
ALTER TABLE tenants ADD COLUMN created_by uuid REFERENCES memberships (id);
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY projects_tenant ON projects USING (tenant_id::text = app.get_tenant());
CREATE POLICY documents_tenant ON documents USING (tenant_id = app.current_tenant_id());
CREATE POLICY memberships_tenant ON memberships USING (app.is_current_tenant(tenant_id));
CREATE POLICY audit_events_tenant ON audit_events USING (tenant_id::text = app.tenant_guc());
GRANT SELECT, INSERT, UPDATE ON projects, documents, memberships, audit_events TO {app_user};
${ownAll('{owner}', ['public', 'app'])}
ALTER FUNCTION app.get_tenant() OWNER TO {owner};
ALTER FUNCTION app.current_tenant_id() OWNER TO {owner};
ALTER FUNCTION app.is_current_tenant(uuid) OWNER TO {owner};
ALTER FUNCTION app.tenant_guc() OWNER TO {owner};
${UUID_TENANTS.map(
  (t, i) => `INSERT INTO tenants (id, name) VALUES ('${t}', 'tenant ${i}');
INSERT INTO projects (tenant_id, name) VALUES ('${t}', 'p');
INSERT INTO documents (tenant_id, body) VALUES ('${t}', 'd');
INSERT INTO memberships (tenant_id, user_email) VALUES ('${t}', 'a@example.com');
INSERT INTO audit_events (tenant_id, action) VALUES ('${t}', 'login');`,
).join('\n')}
`,
  database: { tenantTables: [], tenantSetting: 'app.current_tenant', contextFunction: 'app.set_current_tenant' },
  discovered: { projects: 'column', documents: 'column', memberships: 'column', audit_events: 'column' },
  expect: {
    ...ISOLATION_PASSES,
    'rls.context_function': { status: 'pass' },
    'rls.context_scope': { status: 'pass' },
    // Every table read in the tenant column's own type (uuid; the domain over uuid in its base type).
    'rls.cross_tenant_read': {
      status: 'pass',
      evidence: {
        tables: {
          containing: ['projects', 'documents', 'memberships', 'audit_events'].map((table) => ({
            table,
            ownRowsVisible: true,
            otherTenantSeen: null,
          })),
        },
      },
    },
    'rls.policies_present': {
      status: 'pass',
      evidence: {
        tables: {
          containing: [
            { table: 'projects', decidedBy: 'text', how: 'through app.get_tenant' },
            { table: 'documents', decidedBy: 'text', how: 'through app.current_tenant_id → app.get_tenant' },
            {
              table: 'memberships',
              decidedBy: 'text',
              how: 'through app.is_current_tenant → app.current_tenant_id → app.get_tenant',
            },
            { table: 'audit_events', decidedBy: 'live probe', readsSetting: true },
          ],
        },
      },
    },
  },
};

const INT_TENANTS: [string, string] = ['101', '202'];

const coalesceFallback: CorpusFixture = {
  name: 'integer keys and a COALESCE fallback that fails open without a context',
  after:
    'Fahrizal0112/Row-Level-Security-Backend migrations/001_create_tenants_table.up.sql (USING (id = COALESCE(current_setting(...)::INTEGER, id)))',
  tenants: INT_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
CREATE TABLE tenants (id serial PRIMARY KEY, name varchar(255) NOT NULL, domain varchar(255) UNIQUE NOT NULL);
CREATE FUNCTION set_tenant(p_tenant integer) RETURNS void LANGUAGE plpgsql SET search_path = public, pg_temp AS $fn$
BEGIN
  PERFORM set_config('app.current_tenant_id', p_tenant::text, true);
END;
$fn$;
CREATE TABLE users (id serial PRIMARY KEY, tenant_id integer NOT NULL REFERENCES tenants (id), email varchar(255) NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, tenant_id integer NOT NULL REFERENCES tenants (id), total numeric NOT NULL DEFAULT 0);
CREATE INDEX ON users (tenant_id);
CREATE INDEX ON orders (tenant_id);
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON users FOR ALL TO PUBLIC
  USING (tenant_id = COALESCE(NULLIF(current_setting('app.current_tenant_id', true), '')::integer, tenant_id));
CREATE POLICY tenant_isolation_policy ON orders FOR ALL TO PUBLIC
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::integer);
GRANT SELECT, INSERT, UPDATE ON users, orders TO {app_user};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app_user};
${ownAll('{owner}')}
INSERT INTO tenants (id, name, domain) VALUES (101, 'a', 'a.example'), (202, 'b', 'b.example');
INSERT INTO users (tenant_id, email) VALUES (101, 'x@a.example'), (202, 'y@b.example');
INSERT INTO orders (tenant_id, total) VALUES (101, 5), (202, 7);
`,
  database: { tenantTables: [], tenantSetting: 'app.current_tenant_id', contextFunction: 'set_tenant' },
  discovered: { users: 'column', orders: 'column' },
  expect: {
    ...ISOLATION_PASSES,
    'rls.context_function': { status: 'pass' },
    'rls.context_scope': { status: 'pass' },
    'rls.no_context_denied': { status: 'fail', tier: 'P0', names: ['users (2)'] },
  },
};

const ORG_TENANTS: [string, string] = ['7', '8'];

const otherColumnName: CorpusFixture = {
  name: 'another tenant column name (org_id integer) with an admin bypass policy',
  after:
    'JustLikeJordan/saas-analytics-dashboard apps/api/drizzle/migrations/0001_add-rls-policies.sql (org_id, app.current_org_id, app.is_admin)',
  tenants: ORG_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
CREATE TABLE orgs (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE user_orgs (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, org_id integer NOT NULL REFERENCES orgs (id), user_id integer NOT NULL);
CREATE TABLE refresh_tokens (id serial PRIMARY KEY, org_id integer NOT NULL REFERENCES orgs (id), token_hash text NOT NULL);
CREATE INDEX ON user_orgs (org_id);
CREATE INDEX ON refresh_tokens (org_id);
ALTER TABLE user_orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_orgs_tenant_isolation ON user_orgs FOR ALL
  USING (org_id = NULLIF(current_setting('app.current_org_id', true), '')::integer);
CREATE POLICY refresh_tokens_tenant_isolation ON refresh_tokens FOR ALL
  USING (org_id = NULLIF(current_setting('app.current_org_id', true), '')::integer);
CREATE POLICY user_orgs_admin_bypass ON user_orgs FOR ALL USING (current_setting('app.is_admin', true) = 'true');
CREATE POLICY refresh_tokens_admin_bypass ON refresh_tokens FOR ALL USING (current_setting('app.is_admin', true) = 'true');
GRANT SELECT, INSERT, UPDATE ON user_orgs, refresh_tokens TO {app_user};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app_user};
${ownAll('{owner}')}
INSERT INTO orgs VALUES (7, 'seven'), (8, 'eight');
INSERT INTO user_orgs (org_id, user_id) VALUES (7, 1), (8, 2);
INSERT INTO refresh_tokens (org_id, token_hash) VALUES (7, 'h1'), (8, 'h2');
`,
  database: { tenantTables: [], tenantColumn: 'org_id', tenantSetting: 'app.current_org_id', contextFunction: null },
  discovered: { user_orgs: 'column', refresh_tokens: 'column' },
  expect: ISOLATION_PASSES,
};

const forgottenTable: CorpusFixture = {
  name: 'a table a later migration forgot',
  after:
    'mwimer1/corso-dec supabase/migrations/20250616000000_enable_rls_org_isolation.sql ("Add policies for other tables as needed in subsequent migrations")',
  tenants: PLATFORM_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
CREATE TABLE org_subscriptions (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), org_id text NOT NULL, plan text);
CREATE TABLE projects (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), org_id text NOT NULL, name text);
ALTER TABLE org_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation_org_subscriptions ON org_subscriptions FOR ALL USING (org_id = current_setting('app.current_org_id', true));
CREATE POLICY org_isolation_projects ON projects FOR ALL USING (org_id = current_setting('app.current_org_id', true));
-- A later migration adds a table and forgets its policy.
CREATE TABLE saved_files (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), org_id text NOT NULL, user_id text, path text);
GRANT SELECT, INSERT, UPDATE ON org_subscriptions, projects, saved_files TO {app_user};
${ownAll('{owner}')}
${PLATFORM_TENANTS.map(
  (t) => `INSERT INTO org_subscriptions (org_id, plan) VALUES ('${t}', 'pro');
INSERT INTO projects (org_id, name) VALUES ('${t}', 'p');
INSERT INTO saved_files (org_id, path) VALUES ('${t}', '/f');`,
).join('\n')}
`,
  database: {
    tenantTables: ['org_subscriptions', 'projects'],
    tenantColumn: 'org_id',
    tenantSetting: 'app.current_org_id',
    contextFunction: null,
  },
  discovered: { org_subscriptions: 'column', projects: 'column', saved_files: 'column' },
  expect: {
    ...ISOLATION_PASSES,
    'rls.tables_enabled': {
      status: 'fail',
      tier: 'P0',
      names: ['saved_files'],
      evidence: { disabled: ['saved_files'] },
    },
    'rls.policies_present': { status: 'fail', tier: 'P0', evidence: { withoutTenantPolicy: ['saved_files'] } },
    'rls.no_context_denied': { status: 'fail', tier: 'P0', names: ['saved_files (2)'] },
    'rls.cross_tenant_read': { status: 'fail', tier: 'P0', names: ['saved_files'] },
    'rls.cross_tenant_write': { status: 'fail', tier: 'P0', names: ['saved_files'] },
  },
};

const foreignKeyChildren: CorpusFixture = {
  name: 'foreign-key children with and without a policy',
  after:
    'norpactech/pareto-db Scripts/utils/test/multi-tenancy.sql (child tables isolated through a subquery over their parent)',
  tenants: UUID_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
CREATE TABLE tenant (id uuid PRIMARY KEY, name text);
CREATE TABLE project (id uuid PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenant (id), name text);
CREATE TABLE project_component (id uuid PRIMARY KEY, id_project uuid NOT NULL REFERENCES project (id), name text);
CREATE TABLE component_note (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), id_component uuid NOT NULL REFERENCES project_component (id), note text);
-- Two hops from the tenant column, filtered through its parent, itself filtered through project.
CREATE TABLE component_tag (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), id_component uuid NOT NULL REFERENCES project_component (id), tag text);
ALTER TABLE project ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_component ENABLE ROW LEVEL SECURITY;
ALTER TABLE component_tag ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_policy ON project FOR ALL USING (tenant_id = current_setting('app.current_tenant', true)::uuid);
CREATE POLICY tenant_isolation_policy ON project_component FOR ALL USING (id_project IN (SELECT id FROM project));
CREATE POLICY tenant_isolation_policy ON component_tag FOR ALL USING (id_component IN (SELECT id FROM project_component));
GRANT SELECT, INSERT, UPDATE ON project, project_component, component_note, component_tag TO {app_user};
${ownAll('{owner}')}
${UUID_TENANTS.map(
  (t, i) => `INSERT INTO tenant VALUES ('${t}', 't${i}');
INSERT INTO project VALUES ('00000000-0000-4000-8000-00000000010${i}', '${t}', 'p');
INSERT INTO project_component VALUES ('00000000-0000-4000-8000-00000000020${i}', '00000000-0000-4000-8000-00000000010${i}', 'c');
INSERT INTO component_note (id_component, note) VALUES ('00000000-0000-4000-8000-00000000020${i}', 'n');
INSERT INTO component_tag (id_component, tag) VALUES ('00000000-0000-4000-8000-00000000020${i}', 't');`,
).join('\n')}
`,
  database: { tenantTables: [], tenantSetting: 'app.current_tenant', contextFunction: null },
  discovered: {
    project: 'column',
    project_component: ['project_component', 'project'],
    component_note: ['component_note', 'project_component', 'project'],
    component_tag: ['component_tag', 'project_component', 'project'],
  },
  expect: {
    ...ISOLATION_PASSES,
    'rls.tables_enabled': { status: 'fail', tier: 'P0', evidence: { disabled: ['component_note'] } },
    'rls.policies_present': { status: 'fail', tier: 'P0', evidence: { withoutTenantPolicy: ['component_note'] } },
    'rls.no_context_denied': { status: 'fail', tier: 'P0', names: ['component_note (2)'] },
    'rls.cross_tenant_read': {
      status: 'fail',
      tier: 'P0',
      names: ['component_note (e.g. (a row whose parent row is not visible))'],
    },
  },
};

const partitionedPerPartition: CorpusFixture = {
  name: 'a partitioned table with policies per partition',
  after:
    "tshprecher/antlr_psql src/test/resources/sql/create_table/606f53b3.sql (PostgreSQL's own rowsecurity.sql: part_document PARTITION BY RANGE)",
  tenants: PLATFORM_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
CREATE TABLE events (id bigint GENERATED BY DEFAULT AS IDENTITY, tenant_id text NOT NULL, created_on date NOT NULL, kind text,
  PRIMARY KEY (tenant_id, created_on, id)) PARTITION BY RANGE (created_on);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE accounts (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id text NOT NULL, name text);
${['events', 'events_2025', 'events_2026', 'accounts']
  .map(
    (t) => `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;
CREATE POLICY ${t}_tenant ON ${t} FOR ALL USING (tenant_id = current_setting('app.tenant', true));`,
  )
  .join('\n')}
GRANT SELECT, INSERT, UPDATE ON events, events_2025, events_2026, accounts TO {app_user};
${ownAll('{owner}')}
${PLATFORM_TENANTS.map(
  (
    t,
  ) => `INSERT INTO events (tenant_id, created_on, kind) VALUES ('${t}', '2025-06-01', 'a'), ('${t}', '2026-02-01', 'b');
INSERT INTO accounts (tenant_id, name) VALUES ('${t}', 'x');`,
).join('\n')}
`,
  database: { tenantTables: [], tenantSetting: 'app.tenant', contextFunction: null },
  discovered: { events: 'column', accounts: 'column' },
  expect: {
    ...ISOLATION_PASSES,
    'rls.partitions_covered': { status: 'pass', names: ['2 partitions'] },
  },
};

const forceOwnedByApp: CorpusFixture = {
  name: 'FORCE ROW LEVEL SECURITY with the application owning its tables, a plpgsql helper',
  after:
    'Inneren12/CleanWithSnapshot backend/alembic/versions/20260121_add_rls_client_users.py (org_id uuid policy); FORCE as in PostgreSQL docs ("table owners normally bypass RLS")',
  tenants: UUID_TENANTS,
  sql: `
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {probe};
CREATE FUNCTION current_org_id() RETURNS uuid LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v text;
BEGIN
  v := current_setting('app.current_org_id', true);
  IF v IS NULL OR v = '' THEN
    RETURN NULL;
  END IF;
  RETURN v::uuid;
END;
$fn$;
CREATE TABLE client_users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), org_id uuid NOT NULL, email text);
CREATE TABLE invoices (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), org_id uuid NOT NULL, amount numeric);
ALTER TABLE client_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE client_users FORCE ROW LEVEL SECURITY;
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoices FORCE ROW LEVEL SECURITY;
CREATE POLICY client_users_org_isolation ON client_users USING (org_id = current_org_id());
CREATE POLICY invoices_org_isolation ON invoices USING (org_id = current_org_id());
GRANT SELECT, INSERT, UPDATE ON client_users, invoices TO {app_user};
${ownAll('{app}')}
ALTER FUNCTION current_org_id() OWNER TO {app};
${UUID_TENANTS.map(
  (t) => `INSERT INTO client_users (org_id, email) VALUES ('${t}', 'u@example.com');
INSERT INTO invoices (org_id, amount) VALUES ('${t}', 1);`,
).join('\n')}
`,
  database: { tenantTables: [], tenantColumn: 'org_id', tenantSetting: 'app.current_org_id', contextFunction: null },
  discovered: { client_users: 'column', invoices: 'column' },
  expect: {
    ...ISOLATION_PASSES,
    'rls.app_role_enforced': { status: 'pass' },
    'rls.policies_present': {
      status: 'pass',
      evidence: { tables: { containing: [{ table: 'invoices', how: 'through current_org_id' }] } },
    },
  },
};

const schemasAndExclusions: CorpusFixture = {
  name: 'tenant tables in two schemas, a cache excluded, an inheritance child judged under its parent',
  after:
    'Arescoreadmin/fg-core migrations/postgres/0005_tenant_rls_policy_enforcement.sql (tenant_id text, app.tenant_id, policies per table)',
  tenants: PLATFORM_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
CREATE SCHEMA crm;
GRANT USAGE ON SCHEMA crm TO {app_user};
CREATE TABLE crm.contacts (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id text NOT NULL, name text);
CREATE TABLE accounts (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id text NOT NULL, name text);
CREATE TABLE accounts_archive () INHERITS (accounts);
-- Not tenant data despite the column: excluded in the config.
CREATE TABLE tenant_stats_cache (tenant_id text PRIMARY KEY, hits integer NOT NULL DEFAULT 0);
${['crm.contacts', 'accounts', 'accounts_archive']
  .map(
    (t) => `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ${t} FOR ALL
  USING (tenant_id IS NOT NULL AND tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id IS NOT NULL AND tenant_id = current_setting('app.tenant_id', true));`,
  )
  .join('\n')}
GRANT SELECT, INSERT, UPDATE ON crm.contacts, accounts, accounts_archive TO {app_user};
${ownAll('{owner}', ['public', 'crm'])}
${PLATFORM_TENANTS.map(
  (t) => `INSERT INTO crm.contacts (tenant_id, name) VALUES ('${t}', 'c');
INSERT INTO accounts (tenant_id, name) VALUES ('${t}', 'a');
INSERT INTO accounts_archive (tenant_id, name) VALUES ('${t}', 'old');
INSERT INTO tenant_stats_cache (tenant_id) VALUES ('${t}');`,
).join('\n')}
`,
  database: {
    tenantTables: [],
    tenantSetting: 'app.tenant_id',
    contextFunction: null,
    discover: { schemas: ['public', 'crm'], exclude: ['tenant_stats_cache'] },
  },
  discovered: { accounts: 'column', 'crm.contacts': 'column' },
  expect: {
    ...ISOLATION_PASSES,
    'rls.partitions_covered': { status: 'pass', names: ['all 1 partitions and inheritance children'] },
  },
};

/** A tenant policy for PUBLIC and, beside it, one for the application role that reads nothing. */
const policyOpenToApp: CorpusFixture = {
  name: 'a tenant policy for PUBLIC beside a permissive one open to the application role',
  after:
    "PostgreSQL's CREATE POLICY documentation (permissive policies for a role OR together); review finding: iso TO PUBLIC plus open TO the application role USING (true)",
  tenants: PLATFORM_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
CREATE ROLE {admin} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
CREATE TABLE tickets (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id text NOT NULL, title text);
ALTER TABLE tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY iso ON tickets USING (tenant_id = current_setting('app.current_tenant_id', true));
-- The application role reads every tenant's rows; the canary's role (not a member of it) does not.
CREATE POLICY open ON tickets FOR SELECT TO {app} USING (true);
-- For another role: not the application's reads.
CREATE POLICY support_all ON tickets FOR SELECT TO {admin} USING (true);
GRANT SELECT, INSERT, UPDATE ON tickets TO {app_user};
${ownAll('{owner}')}
${PLATFORM_TENANTS.map((t) => `INSERT INTO tickets (tenant_id, title) VALUES ('${t}', 't');`).join('\n')}
`,
  database: { tenantTables: [], tenantSetting: 'app.current_tenant_id', contextFunction: null },
  discovered: { tickets: 'column' },
  expect: {
    ...ISOLATION_PASSES,
    'rls.policies_present': {
      status: 'fail',
      tier: 'P0',
      names: ['policy open on tickets'],
      evidence: { openPolicies: [{ table: 'tickets', policies: ['open'] }], withoutTenantPolicy: [] },
    },
  },
};

const quotedNames: CorpusFixture = {
  name: "Prisma-style PascalCase tables, a name with a dot, a view owned by the tables' owner",
  after:
    'prisma/prisma packages/migrate (models become quoted PascalCase tables: CREATE TABLE "Invoice"); a lowercase invoice beside it',
  tenants: PLATFORM_TENANTS,
  sql: `
CREATE ROLE {owner} NOLOGIN;
CREATE ROLE {app_user} NOLOGIN;
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {probe} NOLOGIN;
GRANT {app_user} TO {app};
GRANT {app_user} TO {probe};
CREATE TABLE "Invoice" (id text PRIMARY KEY, tenant_id text NOT NULL, total integer);
CREATE TABLE "LineItem" (id text PRIMARY KEY, "invoiceId" text NOT NULL REFERENCES "Invoice" (id), amount integer);
CREATE TABLE "audit.log" (id text PRIMARY KEY, tenant_id text NOT NULL, what text);
-- A legacy table spelled like the model, lowercase: it must not be judged in "Invoice"'s place.
CREATE TABLE invoice (id text PRIMARY KEY, tenant_id text NOT NULL);
ALTER TABLE "Invoice" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "LineItem" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "audit.log" ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "Invoice" FOR ALL USING (tenant_id = current_setting('app.current_tenant', true));
CREATE POLICY tenant_isolation ON "LineItem" FOR ALL USING ("invoiceId" IN (SELECT id FROM "Invoice"));
CREATE POLICY tenant_isolation ON "audit.log" FOR ALL USING (tenant_id = current_setting('app.current_tenant', true));
CREATE POLICY tenant_isolation ON invoice FOR ALL USING (tenant_id = current_setting('app.current_tenant', true));
-- Read through the owner's rights: the view bypasses the policies on "Invoice".
CREATE VIEW invoice_totals AS SELECT tenant_id, sum(total) AS total FROM "Invoice" GROUP BY tenant_id;
GRANT SELECT, INSERT, UPDATE ON "Invoice", "LineItem", "audit.log", invoice TO {app_user};
GRANT SELECT ON invoice_totals TO {app_user};
${ownAll('{owner}')}
ALTER VIEW invoice_totals OWNER TO {owner};
${PLATFORM_TENANTS.map(
  (t, i) => `INSERT INTO "Invoice" VALUES ('inv-${i}', '${t}', 10);
INSERT INTO "LineItem" VALUES ('li-${i}', 'inv-${i}', 10);
INSERT INTO "audit.log" VALUES ('a-${i}', '${t}', 'created');`,
).join('\n')}
`,
  database: { tenantTables: [], tenantSetting: 'app.current_tenant', contextFunction: null },
  discovered: {
    '"Invoice"': 'column',
    '"LineItem"': ['"LineItem"', '"Invoice"'],
    '"audit.log"': 'column',
    invoice: 'column',
  },
  expect: {
    ...ISOLATION_PASSES,
    'rls.views_respect_rls': { status: 'fail', tier: 'P0', names: ['invoice_totals'] },
  },
};

/** The same, its schema-qualified context function no longer pinning search_path: judged under its qualified name. */
const qualifiedContextUnpinned: CorpusFixture = {
  ...helperFunctions,
  name: "a schema-qualified context function that runs with the caller's search_path",
  sql: helperFunctions.sql.replace(
    'CREATE FUNCTION app.set_current_tenant(p_tenant uuid) RETURNS void LANGUAGE sql SET search_path = public, pg_temp',
    'CREATE FUNCTION app.set_current_tenant(p_tenant uuid) RETURNS void LANGUAGE sql',
  ),
  expect: {
    ...helperFunctions.expect,
    'rls.definer_functions': { status: 'fail', tier: 'P2', names: ['set_current_tenant', 'search_path'] },
  },
};

export const CORPUS: readonly CorpusFixture[] = [
  platformAsMigrated,
  platformFixed,
  helperFunctions,
  coalesceFallback,
  otherColumnName,
  forgottenTable,
  foreignKeyChildren,
  partitionedPerPartition,
  forceOwnedByApp,
  schemasAndExclusions,
  policyOpenToApp,
  quotedNames,
  qualifiedContextUnpinned,
];
