/**
 * Capacity: the enhancement queue's backlog (Redis) and the database's connection headroom.
 */
import { errored } from '../core/results.ts';
import { withDatabaseFacts } from './database.ts';
import type { PlatformProbe } from './types.ts';

export const probeQueueDepth: PlatformProbe = async (ctx) => {
  const redis = ctx.ports.redis;
  const { queueKeys } = ctx.config.redis!;
  const max = ctx.config.thresholds.queueDepthMax;
  if (!redis) return errored('no Redis connection configured');
  let lengths: { key: string; length: number }[];
  try {
    lengths = await redis.listLengths(queueKeys);
  } catch (error) {
    return errored(`the queue length could not be read: ${(error as Error).message}`, { keys: queueKeys });
  }
  const depth = lengths.reduce((sum, entry) => sum + entry.length, 0);
  const evidence = { depth, queueDepthMax: max, keys: Object.fromEntries(lengths.map((l) => [l.key, l.length])) };
  if (depth > max) {
    return {
      status: 'fail',
      summary: `${depth} jobs are waiting in the enhancement queue (limit ${max}): workers are not keeping up`,
      evidence,
    };
  }
  return {
    status: 'pass',
    summary: `${depth} job${depth === 1 ? '' : 's'} waiting in the enhancement queue`,
    evidence,
  };
};

export const probeDbConnections: PlatformProbe = (ctx) =>
  withDatabaseFacts(ctx, ({ connections }) => {
    const limit = ctx.config.thresholds.dbConnectionsMaxRatio;
    const ratio = connections.max > 0 ? connections.used / connections.max : 1;
    const evidence = {
      used: connections.used,
      maxConnections: connections.max,
      ratio: Math.round(ratio * 1000) / 1000,
      limit,
    };
    if (ratio >= limit) {
      return {
        status: 'fail',
        summary: `${connections.used} of ${connections.max} database connections are in use (${Math.round(ratio * 100)}%): the pool is close to exhausted`,
        evidence,
      };
    }
    return {
      status: 'pass',
      summary: `${connections.used} of ${connections.max} database connections in use`,
      evidence,
    };
  });
