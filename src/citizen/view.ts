import type { FastifyRequest } from 'fastify'
import { ProblemError } from '../errors/problem-error.ts'
import { minimise, type Policies, type PurposeDef } from './policy.ts'

export type SourceStatus = 'ok' | 'not_found' | 'timeout' | 'unavailable' | 'error'

export interface SourceResult {
  status: SourceStatus
  data?: Record<string, unknown>
  latencyMs: number
  detail?: string
}

function statusOf (err: unknown): SourceStatus {
  switch (err instanceof ProblemError ? err.code : '') {
    case 'UPSTREAM_NOT_FOUND': return 'not_found'
    case 'UPSTREAM_TIMEOUT': return 'timeout'
    case 'UPSTREAM_UNAVAILABLE':
    case 'UPSTREAM_CIRCUIT_OPEN': return 'unavailable'
    default: return 'error'
  }
}

export interface FanOutInput {
  regnum: string
  purpose: PurposeDef
  sources: string[]
  officerId: string
  caseRef: string
  // The code of the citizen's consent, for XYP's auth.citizen.
  citizenOtp?: string
}

// Asks every source at once, each under its own deadline; one slow or failing
// source never holds up or fails the others.
export async function fanOut (request: FastifyRequest, policies: Policies, input: FanOutInput): Promise<Record<string, SourceResult>> {
  const entries = await Promise.all(input.sources.map(async (name): Promise<[string, SourceResult]> => {
    const source = policies.sources[name]!
    const started = performance.now()
    const deadline = Date.now() + source.timeoutMs
    let timer: NodeJS.Timeout | undefined
    const call = request.callAdapter<Record<string, unknown>>(source.operation, { regnum: input.regnum }, {
      userId: input.officerId,
      issue: input.caseRef,
      deadline,
      ...(input.citizenOtp === undefined ? {} : { citizenRegnum: input.regnum, citizenOtp: input.citizenOtp }),
    })
    // The adapter honours the deadline itself; this is the backstop.
    const backstop = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new ProblemError('UPSTREAM_TIMEOUT', `${name} did not answer within ${source.timeoutMs} ms`)), source.timeoutMs + 20)
    })
    try {
      const data = await Promise.race([call, backstop])
      return [name, { status: 'ok', data: minimise(data, input.purpose.sources[name]!), latencyMs: Math.round(performance.now() - started) }]
    } catch (err) {
      call.catch(() => {})
      const status = statusOf(err)
      return [name, { status, latencyMs: Math.round(performance.now() - started), detail: err instanceof ProblemError ? err.detail : 'the source failed' }]
    } finally {
      clearTimeout(timer)
    }
  }))
  return Object.fromEntries(entries)
}
