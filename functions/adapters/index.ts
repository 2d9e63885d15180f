/**
 * The adapters factory: the one place that builds network clients from config. Tests and the
 * Lambda handlers call it (or replace it); nothing builds clients at import time.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Config, ConfigError } from '../core/config.ts';
import type { Ports } from '../probes/types.ts';
import { createHttpClient } from './http.ts';

export interface PortsOptions {
  now?: () => Date;
}

export interface OpenPorts extends Ports {
  close(): Promise<void>;
}

export async function openPorts(config: Config, options: PortsOptions = {}): Promise<OpenPorts> {
  const ca = config.platform.caFile === null ? undefined : await readCaFile(config.platform.caFile);
  const http = createHttpClient({ connectTimeoutMs: Math.min(config.thresholds.requestTimeoutMs, 5000), ca });
  return {
    http,
    now: options.now ?? (() => new Date()),
    uuid: randomUUID,
    async close() {
      await http.close();
    },
  };
}

async function readCaFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`platform.caFile could not be read (${code}): ${path}`], { cause: error });
  }
}
