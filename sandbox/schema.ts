/**
 * The platform's database as PLATFORM.md describes it: four tenant tables with row-level
 * security, the SECURITY DEFINER context function, and the roles around them. Unlike the real
 * platform (whose application role is very likely the tables' owner, and whose context function
 * sets the tenant for the whole session), the sandbox's application role is subject to RLS and
 * its context function is transaction-scoped, so a healthy sandbox passes every check and a
 * fault can break one.
 */

/** Role names. Cluster-wide on a real PostgreSQL, so they carry a per-sandbox suffix there. */
export interface SchemaRoles {
  /** NOLOGIN owner of the tables and of the context function (bypasses RLS as owner: no FORCE). */
  owner: string;
  /** NOLOGIN role holding the table grants, as on the platform. */
  appUser: string;
  /** The role the platform's code runs as (`aiagents` on the platform): a member of appUser. */
  app: string;
  /** The canary's LOGIN role (real PostgreSQL only): a member of appUser. */
  probe: string | null;
}

export const TENANT_TABLES = ['tenant_configs', 'enhancement_history', 'ticket_history', 'system_inventory'] as const;
export type TenantTable = (typeof TENANT_TABLES)[number];
export const TENANT_SETTING = 'app.current_tenant_id';
export const CONTEXT_FUNCTION = 'set_tenant_context';
export const ENHANCEMENT_TEXT_COLUMN = 'llm_output';

/** Double-quotes an identifier that is already known to be a plain name (ours, never user input). */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain SQL identifier: ${name}`);
  return `"${name}"`;
}

/**
 * The context function. A fixed platform sets the tenant for the transaction (`set_config(...,
 * true)`); the real platform's sets it for the session (PLATFORM.md), so on a pooled connection
 * it survives into the next request: the `context-session-scoped` fault. `CREATE OR REPLACE`
 * keeps the owner and grants when a fault swaps the body.
 */
export function contextFunctionSql(scope: 'transaction' | 'session'): string {
  return `CREATE OR REPLACE FUNCTION public.${CONTEXT_FUNCTION}(p_tenant_id varchar) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $fn$
BEGIN
  IF p_tenant_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM public.tenant_configs WHERE tenant_id = p_tenant_id AND is_active
  ) THEN
    RAISE EXCEPTION 'Invalid tenant_id value' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM set_config('${TENANT_SETTING}', p_tenant_id, ${scope === 'transaction' ? 'true' : 'false'});
END;
$fn$;`;
}

/**
 * Tables, indexes, RLS, the context function and grants. Run by a superuser in the target
 * database after {@link rolesSql}; deterministic for given roles (its hash keys the PGlite cache).
 */
export function schemaSql(roles: SchemaRoles): string {
  const owner = quoteIdent(roles.owner);
  const appUser = quoteIdent(roles.appUser);
  const policies = TENANT_TABLES.map(
    (table) => `
ALTER TABLE public.${table} OWNER TO ${owner};
ALTER TABLE public.${table} ENABLE ROW LEVEL SECURITY;
CREATE POLICY ${table}_tenant_isolation_policy ON public.${table}
  FOR ALL USING (tenant_id = COALESCE(current_setting('${TENANT_SETTING}', true), ''));
GRANT SELECT, INSERT, UPDATE ON public.${table} TO ${appUser};`,
  ).join('\n');
  return `
CREATE TABLE public.tenant_configs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL UNIQUE,
  name varchar(255) NOT NULL,
  servicedesk_url varchar(500) NOT NULL,
  servicedesk_api_key_encrypted text,
  webhook_signing_secret_encrypted text,
  enhancement_preferences json NOT NULL DEFAULT '{}',
  rate_limits json NOT NULL DEFAULT '{}',
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.enhancement_history (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL REFERENCES public.tenant_configs (tenant_id),
  ticket_id varchar(100) NOT NULL,
  status varchar(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'failed')),
  context_gathered json,
  llm_output text,
  error_message text,
  processing_time_ms integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE INDEX idx_enhancement_history_tenant_status_created
  ON public.enhancement_history (tenant_id, status, created_at DESC);
CREATE INDEX idx_enhancement_history_tenant_ticket ON public.enhancement_history (tenant_id, ticket_id);

CREATE TABLE public.ticket_history (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL REFERENCES public.tenant_configs (tenant_id),
  ticket_id varchar(100) NOT NULL,
  subject varchar(500),
  description text,
  resolution text,
  category varchar(100),
  priority varchar(20),
  resolved_date timestamptz,
  source varchar(50) NOT NULL DEFAULT 'servicedesk_plus',
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_ticket_history_tenant_ticket UNIQUE (tenant_id, ticket_id)
);

CREATE TABLE public.system_inventory (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id varchar(100) NOT NULL REFERENCES public.tenant_configs (tenant_id),
  ip_address varchar(45) NOT NULL,
  hostname varchar(255),
  role varchar(100),
  operating_system varchar(100),
  notes text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_system_inventory_tenant_ip UNIQUE (tenant_id, ip_address)
);
${policies}

${contextFunctionSql('transaction')}
ALTER FUNCTION public.${CONTEXT_FUNCTION}(varchar) OWNER TO ${owner};
REVOKE ALL ON FUNCTION public.${CONTEXT_FUNCTION}(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.${CONTEXT_FUNCTION}(varchar) TO ${appUser};
GRANT USAGE ON SCHEMA public TO ${appUser};
`;
}

/**
 * The roles. `passwords` (real PostgreSQL) makes the app and probe roles LOGIN roles; the
 * returned SQL then holds them: never log it.
 */
export function rolesSql(roles: SchemaRoles, passwords?: { app: string; probe: string }): string {
  const owner = quoteIdent(roles.owner);
  const appUser = quoteIdent(roles.appUser);
  const app = quoteIdent(roles.app);
  const safe = 'NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS';
  const login = (password: string | undefined): string => {
    if (password === undefined) return 'NOLOGIN';
    if (!/^[A-Za-z0-9_-]+$/.test(password)) throw new Error('generated passwords are base64url');
    return `LOGIN PASSWORD '${password}'`;
  };
  const statements = [
    `CREATE ROLE ${owner} NOLOGIN ${safe};`,
    `CREATE ROLE ${appUser} NOLOGIN ${safe};`,
    `CREATE ROLE ${app} ${login(passwords?.app)} ${safe};`,
    `GRANT ${appUser} TO ${app};`,
  ];
  if (roles.probe !== null) {
    const probe = quoteIdent(roles.probe);
    statements.push(`CREATE ROLE ${probe} ${login(passwords?.probe)} ${safe};`, `GRANT ${appUser} TO ${probe};`);
  }
  return statements.join('\n');
}

/** Drops what {@link rolesSql} created (after the database that held their objects is gone). */
export function dropRolesSql(roles: SchemaRoles): string {
  const names = [roles.probe, roles.app, roles.appUser, roles.owner].filter((name) => name !== null);
  return names.map((name) => `DROP ROLE IF EXISTS ${quoteIdent(name)};`).join('\n');
}
