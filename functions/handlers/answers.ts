/**
 * What an on-demand caller is told when its request cannot run: the one place error kinds
 * become status codes. Its own mistakes in full, ours by name only.
 */
import type { LambdaFunctionURLResult } from 'aws-lambda';
import { CanaryError } from '../core/errors.ts';

export interface ErrorAnswer {
  status: number;
  message: string;
}

export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof CanaryError) {
    switch (error.kind) {
      case 'event':
        return { status: 400, message: error.message };
      case 'not-found':
        return { status: 404, message: error.message };
      case 'config':
        return { status: 500, message: `the canary is misconfigured: ${error.message}` };
      default:
        break;
    }
  }
  return { status: 500, message: `the canary failed (${error instanceof Error ? error.name : 'error'}); see its logs` };
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): LambdaFunctionURLResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}
