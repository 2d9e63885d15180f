/**
 * Seed data: set-based SQL (generate_series), a few statements whatever the tenant count.
 * Per active tenant: a config row, ~150 enhancements over the last 24 h (98% completed in
 * 4–12 s), 150 resolved tickets over ~62 days, 10 inventory hosts. One extra inactive tenant.
 * No synthetic ticket id ever appears here.
 */

export interface SeedTenant {
  tenantId: string;
  name: string;
  active: boolean;
  /** Fernet tokens (the plaintexts never reach the database). */
  signingSecretEncrypted: string;
  apiKeyEncrypted: string;
}

export interface SqlQueryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export const ENHANCEMENTS_PER_TENANT = 150;
export const FAILED_EVERY = 50;
export const TICKETS_PER_TENANT = 150;
export const HOSTS_PER_TENANT = 10;

const TENANTS_SQL = `
INSERT INTO public.tenant_configs
  (tenant_id, name, servicedesk_url, servicedesk_api_key_encrypted, webhook_signing_secret_encrypted,
   enhancement_preferences, rate_limits, is_active, created_at, updated_at)
SELECT t.tenant_id, t.name, 'https://' || t.tenant_id || '.servicedesk.example.com', t.api_key, t.secret,
       json_build_object('tone', 'professional', 'max_length', 2000, 'include_similar_tickets', true),
       json_build_object('requests_per_minute', 100, 'burst', 20),
       t.active, now() - interval '120 days', now() - interval '3 days'
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[])
  AS t(tenant_id, name, secret, api_key, active)`;

const ENHANCEMENTS_SQL = `
INSERT INTO public.enhancement_history
  (tenant_id, ticket_id, status, context_gathered, llm_output, error_message, processing_time_ms, created_at, completed_at)
SELECT t.tenant_id,
       'REQ-' || (100000 + n),
       CASE WHEN failed THEN 'failed' ELSE 'completed' END,
       json_build_object('similar_tickets', 2 + n % 5, 'inventory_matches', n % 3, 'write_back', 'posted'),
       CASE WHEN failed THEN NULL ELSE
         'Enhancement for REQ-' || (100000 + n) || ': ' || p.problem || ' matches ' || (2 + n % 5) ||
         ' resolved tickets. Likely cause: ' || p.cause || '. Suggested next step: ' || p.step || '.' END,
       CASE WHEN failed THEN 'ServiceDesk Plus API returned 503 while posting the note' END,
       l.ms, c.created_at, c.created_at + make_interval(secs => l.ms / 1000.0)
FROM unnest($1::text[]) AS t(tenant_id)
CROSS JOIN generate_series(1, ${ENHANCEMENTS_PER_TENANT}) AS n
CROSS JOIN LATERAL (SELECT n % ${FAILED_EVERY} = 0 AS failed) f
CROSS JOIN LATERAL (
  SELECT (ARRAY['Outlook cannot reach Exchange', 'VPN drops every few minutes', 'Printer queue is stuck',
                'Disk almost full on a file server', 'Password reset loop on login'])[1 + n % 5] AS problem,
         (ARRAY['an expired client certificate', 'an aggressive idle timeout on the firewall',
                'a stale spooler job', 'log rotation turned off', 'a cached credential'])[1 + n % 5] AS cause,
         (ARRAY['renew the certificate and restart Outlook', 'raise the VPN idle timeout to 30 minutes',
                'clear the spooler and restart the service', 're-enable log rotation and purge old logs',
                'clear the credential manager entry'])[1 + n % 5] AS step
) p
CROSS JOIN LATERAL (
  SELECT now() - make_interval(secs => n * 570 + floor(random() * 300)) AS created_at
) c
CROSS JOIN LATERAL (
  SELECT round(CASE WHEN f.failed THEN 2000 + random() * 3000 ELSE 4000 + random() * 8000 END)::int AS ms
) l`;

const TICKETS_SQL = `
INSERT INTO public.ticket_history
  (tenant_id, ticket_id, subject, description, resolution, category, priority, resolved_date, source, created_at)
SELECT t.tenant_id, 'REQ-' || (90000 + n), s.subject, s.subject || ' reported by a user (history ticket ' || n || ').',
       s.resolution, s.category, (ARRAY['low', 'medium', 'high', 'critical'])[1 + n % 4],
       c.created_at + make_interval(hours => 1 + n % 48), 'servicedesk_plus', c.created_at
FROM unnest($1::text[]) AS t(tenant_id)
CROSS JOIN generate_series(1, ${TICKETS_PER_TENANT}) AS n
CROSS JOIN LATERAL (
  SELECT (ARRAY['Outlook cannot reach Exchange', 'VPN drops every few minutes', 'Printer queue is stuck',
                'Disk almost full on a file server', 'Password reset loop on login', 'Slow ERP screens'])[1 + n % 6]
           AS subject,
         (ARRAY['Renewed the client certificate.', 'Raised the firewall idle timeout.', 'Cleared the spooler.',
                'Re-enabled log rotation.', 'Cleared cached credentials.', 'Added an index on the ERP database.'])[1 + n % 6]
           AS resolution,
         (ARRAY['email', 'network', 'hardware', 'storage', 'identity', 'applications'])[1 + n % 6] AS category
) s
CROSS JOIN LATERAL (SELECT now() - make_interval(hours => n * 10) AS created_at) c`;

const INVENTORY_SQL = `
INSERT INTO public.system_inventory (tenant_id, ip_address, hostname, role, operating_system, notes)
SELECT t.tenant_id, '10.' || (t.ord % 250) || '.0.' || n, t.tenant_id || '-host-' || lpad(n::text, 2, '0'),
       (ARRAY['domain controller', 'file server', 'mail relay', 'print server', 'database', 'web'])[1 + n % 6],
       (ARRAY['Windows Server 2022', 'Ubuntu 22.04', 'RHEL 9'])[1 + n % 3], 'seeded by the sandbox'
FROM unnest($1::text[]) WITH ORDINALITY AS t(tenant_id, ord)
CROSS JOIN generate_series(1, ${HOSTS_PER_TENANT}) AS n`;

/** Inserts the seed as a superuser (RLS does not apply to it). */
export async function seedDatabase(db: SqlQueryable, tenants: readonly SeedTenant[]): Promise<void> {
  await db.query(TENANTS_SQL, [
    tenants.map((t) => t.tenantId),
    tenants.map((t) => t.name),
    tenants.map((t) => t.signingSecretEncrypted),
    tenants.map((t) => t.apiKeyEncrypted),
    tenants.map((t) => t.active),
  ]);
  const active = [tenants.filter((t) => t.active).map((t) => t.tenantId)];
  await db.query(ENHANCEMENTS_SQL, active);
  await db.query(TICKETS_SQL, active);
  await db.query(INVENTORY_SQL, active);
}
