/** For database tests that start a bare sandbox database (sandbox/db.ts): its canary config section and tenant rows. */
import type { SandboxDatabase } from '../../sandbox/db.ts';
import { CONTEXT_FUNCTION, TENANT_SETTING, TENANT_TABLES } from '../../sandbox/schema.ts';

/** The canary's `database` section for `db`, as the sandbox writes it, with `overrides` on top. */
export function databaseSection(db: SandboxDatabase, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url: db.canary.url,
    appRole: db.canary.appRole,
    probeAsRole: db.canary.probeAsRole,
    tenantTables: [...TENANT_TABLES],
    tenantSetting: TENANT_SETTING,
    contextFunction: CONTEXT_FUNCTION,
    ...overrides,
  };
}

/** One active tenant_configs row and one row in each other tenant table per tenant, as the superuser. */
export async function seedOneRowEach(db: SandboxDatabase, tenants: readonly string[]): Promise<void> {
  for (const tenant of tenants) {
    await db.admin(
      `INSERT INTO public.tenant_configs (tenant_id, name, servicedesk_url) VALUES ($1, $1, 'https://sd.example')`,
      [tenant],
    );
    await db.admin(`INSERT INTO public.enhancement_history (tenant_id, ticket_id) VALUES ($1, 'REQ-1')`, [tenant]);
    await db.admin(
      `INSERT INTO public.ticket_history (tenant_id, ticket_id, description) VALUES ($1, 'REQ-1', 'printer jam')`,
      [tenant],
    );
    await db.admin(`INSERT INTO public.system_inventory (tenant_id, ip_address) VALUES ($1, '10.0.0.1')`, [tenant]);
  }
}
