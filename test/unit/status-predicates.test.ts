/**
 * The status predicates (functions/core/results.ts), each named for what it means, checked against
 * every status, so "failing" can no longer mean three things in three files.
 */
import { describe, expect, it } from 'vitest';
import { isAlerting, isDecided, isFailing, isQuiet, needsAttention } from '../../functions/core/results.ts';
import { STATUSES } from '../../functions/core/types.ts';

const holding = (predicate: (status: (typeof STATUSES)[number]) => boolean) => STATUSES.filter(predicate);

describe('the status predicates', () => {
  it('isQuiet: pass and skipped, nothing to act on', () => {
    expect(holding(isQuiet)).toEqual(['pass', 'skipped']);
  });

  it('needsAttention: every other status (fail, degraded, error)', () => {
    expect(holding(needsAttention)).toEqual(['fail', 'degraded', 'error']);
  });

  it('isFailing: fail and error, the statuses that make a run exit 1', () => {
    expect(holding(isFailing)).toEqual(['fail', 'error']);
  });

  it('isDecided: pass, fail and degraded, a verdict on the platform', () => {
    expect(holding(isDecided)).toEqual(['pass', 'fail', 'degraded']);
  });

  it("isAlerting: fail and degraded, the verdicts a check's incident counts", () => {
    expect(holding(isAlerting)).toEqual(['fail', 'degraded']);
  });
});
