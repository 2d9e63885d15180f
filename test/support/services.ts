/**
 * Which real services a test may use. With CI=true a missing service is a failure, not a skip:
 * CI promises PostgreSQL 15 (DATABASE_URL) and Redis (REDIS_URL, redis-server on PATH).
 */
import { spawnSync } from 'node:child_process';

export const inCi = process.env.CI === 'true';

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The real PostgreSQL admin URL, or undefined (which fails under CI). */
export function databaseUrl(): string | undefined {
  const url = process.env.DATABASE_URL;
  if (!url && inCi) throw new Error('CI=true but DATABASE_URL is not set: .ci/run must start PostgreSQL 15');
  return url;
}

export function requireRedisInCi(): void {
  if (inCi && !hasRedisServer()) throw new Error('CI=true but redis-server is not on PATH: .ci/run must install it');
}
