/**
 * Links to the troubleshooting guide: a catalog runbook ("Issue 1, Resolution B: Signature
 * Validation Fails") names a heading of the guide ("Resolution B: Signature Validation Fails"),
 * whose anchor is that heading slugged the way GitHub, GitLab and most Markdown renderers do
 * (lowercase, punctuation dropped, each space a hyphen). Pure.
 */

/** The guide's heading a runbook names; null for sections outside the guide (the canary's own). */
export function runbookHeading(runbook: string): string | null {
  if (!/^(Issue \d+|Quick Diagnostics)\b/.test(runbook)) return null;
  const comma = runbook.indexOf(', ');
  return comma === -1 ? runbook : runbook.slice(comma + 2);
}

/** A heading's anchor: `Issue 4: Data Isolation Concern (Security)` -> `issue-4-data-isolation-concern-security`. */
export function headingSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The link to a runbook's section under `baseUrl` (any fragment of it replaced); null without a base or a guide section. */
export function runbookUrl(baseUrl: string | null, runbook: string): string | null {
  if (baseUrl === null) return null;
  const heading = runbookHeading(runbook);
  if (heading === null) return null;
  const url = new URL(baseUrl);
  url.hash = headingSlug(heading);
  return url.toString();
}
