import { describe, expect, it } from 'vitest';
import { countStatements } from '../../functions/adapters/postgres.ts';

describe('countStatements', () => {
  it('counts each statement of a multi-statement query', () => {
    expect(countStatements('SELECT 1')).toBe(1);
    expect(countStatements('BEGIN; SET LOCAL ROLE "app_user"')).toBe(2);
    expect(countStatements('ROLLBACK TO SAVEPOINT canary_probe; SAVEPOINT canary_probe; SELECT 1;')).toBe(3);
  });

  it('ignores semicolons in quotes, and empty statements', () => {
    expect(countStatements(`SELECT 'a;b', "x;y" FROM t`)).toBe(1);
    expect(countStatements(' ; ;SELECT 1;; \n')).toBe(1);
    expect(countStatements('')).toBe(0);
  });
});
