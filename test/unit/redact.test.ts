import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REDACTED, redactSecrets } from '../../functions/core/redact.ts';
import { Secret } from '../../functions/core/secret.ts';

describe('secret hygiene', () => {
  it('replaces secret values anywhere in a report-like value', () => {
    const value = { summary: 'x hunter2 y', evidence: { list: ['hunter2', 3], nested: { hunter2: true } } };
    expect(JSON.stringify(redactSecrets(value, ['hunter2']))).not.toContain('hunter2');
    expect(redactSecrets(value, ['hunter2']).evidence.list[1]).toBe(3);
  });

  it('does not print a Secret through String, JSON or inspect', () => {
    const secret = new Secret('hunter2');
    expect(String(secret)).toBe('[redacted]');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[redacted]"}');
    expect(inspect({ secret })).not.toContain('hunter2');
    expect(`${secret}`).not.toContain('hunter2');
    expect(secret.reveal()).toBe('hunter2');
  });
});

describe('secrets echoed by other JSON encoders', () => {
  it("finds a secret in PHP's escaped slashes and Go's escaped <, > and &", () => {
    const secret = 'ab/cd+ef<gh>&ij/kl==';
    const php = JSON.stringify(secret).slice(1, -1).replaceAll('/', '\\/');
    const go = JSON.stringify(secret)
      .slice(1, -1)
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e')
      .replace(/&/g, '\\u0026');
    for (const echoed of [php, go, go.replaceAll('/', '\\/')]) {
      const text = redactSecrets(`{"detail":"bad signature for ${echoed}"}`, [secret]);
      expect(text, echoed).not.toContain('ij');
    }
  });
});

describe('redactSecrets with many secrets', () => {
  it('redacts every occurrence of any of hundreds of secrets, and leaves other strings alone', () => {
    const secrets = Array.from({ length: 300 }, (_, i) => `secret-${String(i).padStart(4, '0')}-${'x'.repeat(i % 7)}`);
    const report = {
      a: `leaked ${secrets[17]} and ${secrets[299]} twice ${secrets[17]}`,
      b: ['nothing here', { [secrets[3]!]: secrets[250] }],
      short: 'ab',
    };
    expect(redactSecrets(report, secrets)).toEqual({
      a: `leaked ${REDACTED} and ${REDACTED} twice ${REDACTED}`,
      b: ['nothing here', { [REDACTED]: REDACTED }],
      short: 'ab',
    });
  });
});
