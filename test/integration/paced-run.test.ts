/**
 * The real-run check of the request budget (issue 24, item 5; bench/paced-run.ts): a counting
 * proxy on loopback that sees every request, and a deployed sweep replayed for real at a tiny
 * scale (20 sandbox tenants, the real sweep and probe code, SQS delays and batches, concurrent
 * invocations) whose requests stay within the budget in every sliding second while every tenant
 * is probed, and the same sweep with every DelaySeconds ignored, which the counter sees far over
 * it. The sweep's time is a sweep number, not a date (its app clock starts there).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measurePacedRun, type PacedRunFigures, slidingPeak, startCountingProxy } from '../../bench/paced-run.ts';
import { startServer } from '../support/servers.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

describe('the counting proxy', () => {
  it('forwards each request and its answer, noting when it arrived', async () => {
    const server = await startServer((_request, res) => {
      res.writeHead(202, { 'content-type': 'text/plain' });
      res.end('queued');
    });
    const proxy = await startCountingProxy(server.url);
    try {
      const answers = await Promise.all(
        [1, 2, 3].map((n) => fetch(`${proxy.url}/webhook?n=${n}`, { method: 'POST', body: `body ${n}` })),
      );
      expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);
      expect(await answers[0]?.text()).toBe('queued');
      expect(server.received.map((r) => r.body).sort()).toEqual(['body 1', 'body 2', 'body 3']);
      expect(proxy.arrivals()).toHaveLength(3);
      expect(
        proxy
          .requests()
          .map((r) => r.path)
          .sort(),
      ).toEqual(['/webhook?n=1', '/webhook?n=2', '/webhook?n=3']);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  it('takes the peak over sliding windows of one second, not calendar seconds', () => {
    // Two calendar seconds of 5 each, 10 inside one sliding second.
    expect(slidingPeak([900, 950, 990, 995, 999, 1000, 1001, 1050, 1100, 1800])).toEqual({ peak: 10, at: 900 });
    expect(slidingPeak([0, 1000, 2000]).peak).toBe(1);
    expect(slidingPeak([]).peak).toBe(0);
  });
});

describe('a paced sweep replayed for real (20 tenants, budget 20 rps, every 15 s)', () => {
  let figures: PacedRunFigures;

  beforeAll(async () => {
    figures = await measurePacedRun({
      root: ROOT,
      tenants: 20,
      budgetRps: 20,
      intervalS: 15,
      // 12 sweeps a period, as examples/platform.json's 60 minutes at 5.
      acceptEveryMinutes: 3,
      unpaced: true,
      // A real PostgreSQL when there is one (CI): the sandbox starts sooner than on PGlite.
      ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    });
  }, 90_000);

  afterAll(() => {
    // The figures, for whoever reads a red run.
    if (figures !== undefined) process.stderr.write(`paced run: ${JSON.stringify(figures)}\n`);
  });

  it('sends the DelaySeconds of the plan, rotating the rejection probes to fit the spread', () => {
    expect(figures.planMatches).toBe(true);
    expect(figures.rotation).toBeGreaterThan(1);
    expect(figures.lastStartS).toBeGreaterThan(5);
  });

  it('probes and records every tenant inside the sweep', () => {
    expect(figures.expected).toBe(20);
    expect(figures.recorded).toBe(20);
    expect(figures.unprobed).toBe(0);
  });

  it('never exceeds the budget in any sliding second at the platform, nor sends more than the plan holds', () => {
    expect(figures.realRequests).toBeGreaterThan(20);
    expect(figures.realRequests).toBeLessThanOrEqual(figures.plannedRequests);
    expect(figures.realPeakRps).toBeGreaterThan(0);
    expect(figures.realPeakRps).toBeLessThanOrEqual(figures.budgetRps);
    expect(figures.simPeakRps).toBeLessThanOrEqual(figures.budgetRps);
  });

  it('sees the same sweep far over the budget when the queue ignores DelaySeconds', () => {
    expect(figures.unpacedPeakRps).toBeGreaterThan(2 * figures.budgetRps);
  });
});
