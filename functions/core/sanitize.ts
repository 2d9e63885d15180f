/**
 * The one root where a run's results are made safe to leave the canary (functions/run.ts): every
 * string of every result, the platform's text among them (a response's detail, a health status,
 * a database error, a catalog name), is stripped of control characters, scrubbed of every form of
 * every secret, and only then cut to its cap (functions/core/limits.ts); evidence is bounded in
 * depth and size. The terminal, the JSON and HTML reports, the logs and the alerts all read
 * results made here. Pure.
 */
import { trimEvidence } from './alert-message.ts';
import {
  EVIDENCE_KEY_MAX_CHARS,
  EVIDENCE_MAX_BYTES,
  EVIDENCE_MAX_DEPTH,
  EVIDENCE_STRING_MAX_CHARS,
  SUMMARY_MAX_CHARS,
} from './limits.ts';
import { TOO_DEEP } from './redact.ts';
import { cleanText, platformScrubber } from './text.ts';
import type { CheckResult, Evidence, Report } from './types.ts';

type Scrub = (text: string) => string;

/** A result's summary: one line, scrubbed, at most SUMMARY_MAX_CHARS. */
export function cleanSummary(summary: string, scrub: Scrub): string {
  return cleanText(String(summary), { scrub, maxChars: SUMMARY_MAX_CHARS });
}

/**
 * Evidence as it may leave the canary: strings (line feeds and tabs kept) and keys cleaned and
 * cut, nesting below EVIDENCE_MAX_DEPTH (deeper values become a note), and the whole at most
 * EVIDENCE_MAX_BYTES of JSON (the largest fields replaced by a note of their size, as in an alert).
 */
export function cleanEvidence(evidence: Evidence, scrub: Scrub): Evidence {
  const walk = (node: unknown, depth: number): unknown => {
    switch (typeof node) {
      case 'string':
        return cleanText(node, { scrub, multiline: true, maxChars: EVIDENCE_STRING_MAX_CHARS });
      case 'number':
        return Number.isFinite(node) ? node : null;
      case 'boolean':
      case 'undefined':
        return node;
      case 'bigint':
        return String(node);
      case 'function':
      case 'symbol':
        return undefined;
    }
    if (node === null) return null;
    if (depth >= EVIDENCE_MAX_DEPTH) return TOO_DEEP;
    if (node instanceof Date) return Number.isNaN(node.getTime()) ? null : node.toISOString();
    if (Array.isArray(node)) return node.map((child) => walk(child, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node as Record<string, unknown>)) {
      out[cleanText(key, { scrub, maxChars: EVIDENCE_KEY_MAX_CHARS })] = walk(child, depth + 1);
    }
    return out;
  };
  const cleaned = walk(evidence, 0);
  const out: Evidence =
    cleaned !== null && typeof cleaned === 'object' && !Array.isArray(cleaned)
      ? (cleaned as Evidence)
      : { value: cleaned };
  // Cleaned, the evidence is a fresh tree of bounded depth with JSON values only: JSON.stringify is safe.
  const json = JSON.stringify(out);
  if (json.length <= EVIDENCE_MAX_BYTES && Buffer.byteLength(json, 'utf8') <= EVIDENCE_MAX_BYTES) return out;
  return trimEvidence(out, EVIDENCE_MAX_BYTES);
}

/** One result, cleaned ({@link cleanSummary}, {@link cleanEvidence}). */
export function cleanResult(result: CheckResult, scrub: Scrub): CheckResult {
  return { ...result, summary: cleanSummary(result.summary, scrub), evidence: cleanEvidence(result.evidence, scrub) };
}

/**
 * Every result of a report cleaned, with every form of each of `secrets` scrubbed (the run's
 * signing secrets): the last step of a run, before anything reads the report.
 */
export function cleanReport(report: Report, secrets: readonly string[]): Report {
  const scrub = platformScrubber(secrets);
  return { ...report, results: report.results.map((result) => cleanResult(result, scrub)) };
}
