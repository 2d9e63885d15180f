/** Tenant rows for database tests that start a bare sandbox database (sandbox/db.ts) without its seed. */
import type { SandboxDatabase } from '../../sandbox/db.ts';

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
