import { ProblemError } from '../../src/errors/problem-error.ts'
import type { LookupAll } from '../../src/callbacks/url-guard.ts'

// For checks that must be decided on the address alone.
export const noLookup: LookupAll = async (host) => { throw new Error(`lookup of ${host} not expected`) }

// The ProblemError a refused URL or connection throws.
export async function refusal (promise: Promise<unknown>): Promise<ProblemError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof ProblemError) return err
    throw err
  }
  throw new Error('expected a refusal')
}
