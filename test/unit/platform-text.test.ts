/**
 * The platform's text made safe to show (functions/core/text.ts, json.ts, sanitize.ts): no
 * escape sequence or control character survives, every form of a secret is scrubbed before any
 * cut, JSON is bounded in depth and size before it is parsed or printed, and every text field of
 * a result has its cap.
 */
import { describe, expect, it } from 'vitest';
import { boundedStringify, jsonDepthExceeds, parsePlatformJson } from '../../functions/core/json.ts';
import {
  EVIDENCE_KEY_MAX_CHARS,
  EVIDENCE_MAX_BYTES,
  EVIDENCE_STRING_MAX_CHARS,
  PLATFORM_JSON_MAX_DEPTH,
  SUMMARY_MAX_CHARS,
} from '../../functions/core/limits.ts';
import { REDACTED, redactSecrets, secretForms, TOO_DEEP } from '../../functions/core/redact.ts';
import { cleanReport } from '../../functions/core/sanitize.ts';
import { cleanText, cutText, stripControls } from '../../functions/core/text.ts';
import type { CheckResult, Report } from '../../functions/core/types.ts';
import { controlsIn } from '../support/hostile-text.ts';

const ESC = '\u001b';
const BEL = '\u0007';

/** A nesting of `depth` arrays, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i += 1) value = [value];
  return value;
}

describe('stripControls', () => {
  it('removes the escape sequences that forge a terminal line, whole', () => {
    const forged = `${ESC}[2K${ESC}[1G  ✓ pass     webhook.signed_accepted  accepted${ESC}[8m hidden`;
    const out = stripControls(forged);
    expect(controlsIn(out)).toEqual([]);
    // The parameters of each sequence go with it: nothing like "[2K" is left to read as text.
    expect(out).toBe('  ✓ pass     webhook.signed_accepted  accepted hidden');
  });

  it('removes window-title and hyperlink commands, 8-bit introducers, C0, C1, DEL and bidi overrides', () => {
    const hostile = [
      `${ESC}]0;pwned${BEL}`, // OSC, BEL-terminated
      `${ESC}]8;;https://evil.example${ESC}\\link${ESC}]8;;${ESC}\\`, // OSC 8 hyperlink, ST-terminated
      '\u009b31m', // 8-bit CSI
      '\u009d2;title\u009c', // 8-bit OSC
      `${ESC}c`, // full reset
      '\u0000\u0008\u007f\u0085',
      '\u202eevil\u202c\u2066x\u2069',
    ].join(' | ');
    const out = stripControls(hostile);
    expect(controlsIn(out)).toEqual([]);
    expect(out).not.toContain('pwned');
    expect(out).not.toContain('31m');
    expect(out).toContain('link');
    expect(out).toContain('evil');
  });

  it('turns every line break into a space, or into a line feed for multi-line text (tabs kept)', () => {
    expect(stripControls('a\r\nb\rc\nd\te\u2028f')).toBe('a b c d e f');
    expect(stripControls('a\r\nb\rc\nd\te\u000bf', { multiline: true })).toBe('a\nb\nc\nd\te\nf');
  });

  it('returns clean text as it is', () => {
    const text = 'relation "tenant_configs" does not exist — ünïcode ✓';
    expect(stripControls(text)).toBe(text);
  });
});

describe('cutText and cleanText', () => {
  it('cuts to at most the cap, never inside a surrogate pair', () => {
    expect(cutText('abcdef', 4)).toBe('abc…');
    expect(cutText('a😀b', 3)).toBe('a…');
    expect(cutText('short', 10)).toBe('short');
  });

  it('scrubs a secret before the cut, so no prefix of it survives', () => {
    const secret = 'Zq7xK9pL2mW4vB8n';
    const text = `${'x'.repeat(190)}${secret} and more`;
    const out = cleanText(text, { secrets: [secret], maxChars: 200 });
    expect(out.length).toBeLessThanOrEqual(200);
    expect(out).not.toContain(secret.slice(0, 6));
  });

  it('scrubs a secret split by an escape sequence (removing the sequence joins it again)', () => {
    const secret = 'Zq7xK9pL2mW4vB8n';
    const out = cleanText(`got ${secret.slice(0, 8)}${ESC}[0m${secret.slice(8)}`, { secrets: [secret], maxChars: 200 });
    expect(controlsIn(out)).toEqual([]);
    expect(out).not.toContain(secret.slice(8));
  });
});

describe('secret forms', () => {
  const secret = 'Ab"c\\d é+f/g&h<i';

  it('lists the raw, JSON-escaped, URL-encoded and HTML-escaped forms', () => {
    const forms = secretForms(secret);
    expect(forms).toContain(secret);
    expect(forms).toContain(JSON.stringify(secret).slice(1, -1));
    expect(forms).toContain('Ab\\"c\\\\d \\u00e9+f/g&h<i');
    expect(forms).toContain(encodeURIComponent(secret));
    expect(forms).toContain('Ab&quot;c\\d é+f/g&amp;h&lt;i');
  });

  it('are each replaced wherever a platform echoes them', () => {
    const echoes = {
      json: JSON.stringify({ got: secret }),
      python: `{"got": "${'Ab\\"c\\\\d \\u00e9+f/g&h<i'}"}`,
      query: `https://h/?s=${encodeURIComponent(secret)}`,
      lower: `s=${encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (p) => p.toLowerCase())}`,
      html: `<p>${secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;')}</p>`,
    };
    const out = redactSecrets(echoes, [secret]);
    for (const [form, text] of Object.entries(out)) {
      expect(text, form).toContain(REDACTED);
      expect(text, form).not.toMatch(/Ab|c\\d|f\/g/);
    }
  });

  it('walks a value nested thousands deep without overflowing the stack', () => {
    const out = redactSecrets({ deep: nested(5_000) }, ['hunter22']);
    expect(JSON.stringify(out)).toContain(TOO_DEEP);
  });
});

describe('platform JSON', () => {
  it('reads nesting outside strings only', () => {
    expect(jsonDepthExceeds('{"a":"[[[[[[[[[["}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a":"\\"[[[["}', 3)).toBe(false);
    expect(jsonDepthExceeds('[[[[1]]]]', 3)).toBe(true);
    expect(jsonDepthExceeds('[[[1]]]', 3)).toBe(false);
  });

  it('does not parse a body nested deeper than the limit, or larger than the size limit', () => {
    const deep = `{"detail":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;
    expect(parsePlatformJson(deep)).toEqual({
      ok: false,
      kind: 'limit',
      reason: `JSON nested deeper than ${PLATFORM_JSON_MAX_DEPTH} levels, not parsed`,
    });
    expect(parsePlatformJson(JSON.stringify({ a: 'x'.repeat(100) }), { maxBytes: 50 })).toMatchObject({
      ok: false,
      kind: 'limit',
    });
    expect(parsePlatformJson('{"detail":[[["ok"]]]}')).toEqual({ ok: true, value: { detail: [[['ok']]] } });
    expect(parsePlatformJson('{nope')).toMatchObject({ ok: false, kind: 'invalid' });
  });

  it('prints any value to a bounded depth and length, where JSON.stringify overflows', () => {
    const value = { detail: nested(5_000) };
    expect(() => JSON.stringify(value)).toThrow(RangeError);
    const text = boundedStringify(value, { maxDepth: 6, maxChars: 200 });
    expect(text).toBe('{"detail":[[[[["[…]"]]]]]}');
    expect(boundedStringify({ a: 'x'.repeat(1_000) }, { maxDepth: 6, maxChars: 100 })).toHaveLength(100);
    expect(
      boundedStringify({ a: 1, b: undefined, c: [undefined, 2n, Number.NaN] }, { maxDepth: 4, maxChars: 100 }),
    ).toBe('{"a":1,"c":[null,"2",null]}');
  });
});

describe('cleanReport: the root every result leaves the run through', () => {
  const secret = 'Zq"7\\xK9pL2mW4vB8n';
  const result = (summary: string, evidence: CheckResult['evidence']): CheckResult => ({
    checkId: 'rls.context_function',
    tenantId: 'acme-corp',
    status: 'fail',
    tier: 'P1',
    summary,
    durationMs: 3,
    evidence,
    runbook: 'Issue 4: Data Isolation Concern',
  });
  const report = (results: CheckResult[]): Report => ({
    runId: 'r',
    startedAt: '2026-12-01T10:00:00.000Z',
    finishedAt: '2026-12-01T10:00:01.000Z',
    tenants: ['acme-corp'],
    results,
    alerts: [],
  });

  it('cuts a 100 KB database error to the summary cap, after scrubbing the secret inside it', () => {
    // The secret straddles the cap: a cut first would leave its prefix.
    const message = `${'e'.repeat(SUMMARY_MAX_CHARS - 10)}${secret}${'e'.repeat(100_000)}`;
    const [out] = cleanReport(report([result(`set_tenant_context raised: ${message}`, { error: message })]), [
      secret,
    ]).results;
    expect(out?.summary.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
    expect(String(out?.evidence.error).length).toBeLessThanOrEqual(EVIDENCE_STRING_MAX_CHARS);
    expect(JSON.stringify(out)).not.toContain('Zq"7');
    expect(JSON.stringify(out)).not.toContain('Zq\\"7');
  });

  it('strips control characters from the summary, evidence strings and keys', () => {
    const [out] = cleanReport(
      report([result(`${ESC}[2K${ESC}[1G ✓ pass`, { [`${ESC}[8mkey`]: `line 1\nline 2${ESC}[8m\tend` })]),
      [],
    ).results;
    expect(controlsIn(JSON.stringify(out))).toEqual([]);
    expect(JSON.stringify(out)).not.toContain('\\u001b');
    expect(out?.evidence).toEqual({ key: 'line 1\nline 2\tend' });
  });

  it('bounds evidence in depth, key length and total size', () => {
    const [out] = cleanReport(
      report([
        result('x', {
          deep: nested(5_000),
          ['k'.repeat(1_000)]: 1,
          many: Array.from({ length: 200 }, () => 'v'.repeat(EVIDENCE_STRING_MAX_CHARS)),
        }),
      ]),
      [],
    ).results;
    const json = JSON.stringify(out?.evidence);
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(EVIDENCE_MAX_BYTES);
    expect(json).toContain(TOO_DEEP);
    expect(Object.keys(out?.evidence ?? {}).every((key) => key.length <= EVIDENCE_KEY_MAX_CHARS)).toBe(true);
    expect(out?.evidence.many).toMatch(/^\[trimmed: \d+ bytes\]$/);
  });
});
