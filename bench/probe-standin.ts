/**
 * STAND-IN, used only while functions/handlers/probe.ts does not exist: an entry that imports
 * what the probe handler wires (config, adapters, run orchestration, alerting) so that the
 * cold-start figure has something to bundle. Its figures are labelled as the stand-in's.
 */
import { openPorts } from '../functions/adapters/index.ts';
import { createSecretResolver } from '../functions/adapters/secrets.ts';
import { parseConfig } from '../functions/core/config.ts';
import { runChecks } from '../functions/run.ts';

export async function handler(event: { config: unknown; tenantId?: string }) {
  const config = parseConfig(event.config);
  const ports = await openPorts(config);
  try {
    return await runChecks({
      config,
      ports,
      secrets: createSecretResolver({ env: process.env }),
      filters: { platform: false, ...(event.tenantId ? { tenantIds: [event.tenantId] } : {}) },
    });
  } finally {
    await ports.close();
  }
}
