/**
 * `api.health`: the API answers `GET healthPath` with 200 and JSON `status: "healthy"` in time.
 * The status and dependency names are the platform's text: shown cleaned (no control characters,
 * no secret in any form, scrubbed before they are cut).
 */
import { HEALTH_MAX_DEPENDENCIES, HEALTH_TEXT_MAX_CHARS } from '../core/limits.ts';
import { cleanText, sharedScrubber } from '../core/text.ts';
import type { Outcome } from '../core/types.ts';
import { describeNoResponse, displayUrl, endpointUrl } from '../ports.ts';
import type { PlatformProbe } from './types.ts';

export const probeHealth: PlatformProbe = async (ctx) => {
  const { platform, thresholds } = ctx.config;
  const url = endpointUrl(platform.baseUrl, platform.healthPath);
  const shownUrl = displayUrl(url);
  const result = await ctx.ports.http.request({
    method: 'GET',
    url,
    headers: { accept: 'application/json' },
    timeoutMs: thresholds.requestTimeoutMs,
    maxBytes: thresholds.maxResponseBytes,
    signal: ctx.signal,
  });

  if (result.kind !== 'response') {
    const evidence = {
      url: shownUrl,
      status: null,
      elapsedMs: result.elapsedMs,
      error: result.kind === 'network' ? result.code : `timeout (${result.phase})`,
    };
    const summary = `the health endpoint ${shownUrl} ${describeNoResponse(result, thresholds.requestTimeoutMs)}`;
    // Cancelled by the run: this probe could not decide, the API may be fine.
    if (result.kind === 'timeout' && result.cancelled) return { status: 'error', tier: 'P2', summary, evidence };
    return { status: 'fail', summary, evidence };
  }

  const scrub = sharedScrubber(ctx.tenants, () => ctx.tenants.map((tenant) => tenant.signingSecret.reveal()));
  const clip = (text: string) => cleanText(text, { scrub, maxChars: HEALTH_TEXT_MAX_CHARS });
  const body = isRecord(result.json) ? result.json : undefined;
  const dependencies = body ? readDependencies(body.dependencies, clip) : undefined;
  const unhealthy = dependencies
    ? Object.entries(dependencies).filter(([, state]) => state !== 'healthy')
    : ([] as [string, string][]);
  const unhealthyText = unhealthy.length
    ? `; unhealthy: ${unhealthy.map(([name, state]) => `${name} (${state})`).join(', ')}`
    : '';
  const reported = body && typeof body.status === 'string' ? clip(body.status) : undefined;
  const evidence = {
    url: shownUrl,
    status: result.status,
    elapsedMs: result.elapsedMs,
    ...(reported === undefined ? {} : { reportedStatus: reported }),
    ...(dependencies ? { dependencies } : {}),
  };
  const fail = (summary: string): Outcome => ({ status: 'fail', summary, evidence });

  if (result.truncated) {
    return fail(
      `the health endpoint answered HTTP ${result.status} with a body over ${thresholds.maxResponseBytes} bytes (thresholds.maxResponseBytes)`,
    );
  }
  if (result.status !== 200) {
    const redirect =
      result.status >= 300 && result.status < 400 ? ' (a redirect: check platform.baseUrl and healthPath)' : '';
    return fail(`the health endpoint answered HTTP ${result.status}${redirect}${unhealthyText}`);
  }
  if (result.jsonSkipped !== undefined) {
    return fail(`the health endpoint answered HTTP 200 with JSON the canary does not read (${result.jsonSkipped})`);
  }
  if (result.json === undefined) {
    const type = result.headers['content-type'];
    return fail(
      `the health endpoint answered HTTP 200 but not with JSON${type ? ` (content-type ${clip(type)})` : ''}`,
    );
  }
  if (body?.status !== 'healthy') {
    const what = reported === undefined ? 'has no "status" field' : `reports status "${reported}"`;
    return fail(`the health endpoint ${what}, not "healthy"${unhealthyText}`);
  }
  return {
    status: 'pass',
    summary: `the API reports healthy (HTTP 200 in ${result.elapsedMs} ms)${unhealthy.length ? `, although it lists${unhealthyText.slice(1)}` : ''}`,
    evidence,
  };
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * `{"database": "healthy"}` or `{"database": {"status": "healthy", ...}}` → name → state.
 * Only names and states are kept: a health body may carry more than a report should.
 */
function readDependencies(value: unknown, clip: (text: string) => string): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [name, entry] of Object.entries(value).slice(0, HEALTH_MAX_DEPENDENCIES)) {
    let state: string;
    if (typeof entry === 'string') state = entry;
    else if (typeof entry === 'boolean') state = entry ? 'healthy' : 'unhealthy';
    else if (isRecord(entry) && typeof entry.status === 'string') state = entry.status;
    else state = 'unknown';
    out[clip(name)] = clip(state);
  }
  return out;
}
