/**
 * Synthetic traffic: ticket ids `{prefix}{UPPERCASE-RANDOM}` that the platform processes fully
 * but never writes back to ServiceDesk Plus, and that tenant statistics exclude.
 */

export interface SyntheticTicket {
  event: 'ticket_created';
  ticket_id: string;
  tenant_id: string;
  description: string;
  priority: 'low';
  created_at: string;
  correlation_id: string;
}

export interface SyntheticTicketInput {
  tenantId: string;
  ticketPrefix: string;
  createdAt: Date;
  /** A fresh UUID v4 (crypto.randomUUID in production). */
  uuid: string;
}

/** Builds a webhook body for a synthetic ticket. The ticket id is derived from the UUID. */
export function syntheticTicket(input: SyntheticTicketInput): SyntheticTicket {
  const suffix = input.uuid.replace(/-/g, '').slice(0, 16).toUpperCase();
  return {
    event: 'ticket_created',
    ticket_id: `${input.ticketPrefix}${suffix}`,
    tenant_id: input.tenantId,
    description:
      'tenant-canary synthetic ticket: an automated end-to-end check of webhook intake and enhancement. ' +
      'Do not write back to ServiceDesk Plus; no action needed.',
    priority: 'low',
    created_at: input.createdAt.toISOString(),
    correlation_id: input.uuid,
  };
}

/** The SQL LIKE pattern matching synthetic ticket ids (for excluding them from statistics). */
export function syntheticLikePattern(ticketPrefix: string): string {
  return `${ticketPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
