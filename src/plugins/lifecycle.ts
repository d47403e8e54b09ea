import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ProblemError } from '../errors/problem-error.ts'

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle
  }
}

export interface Lifecycle {
  // Readiness is false from the moment shutdown starts.
  readonly ready: boolean
  readonly closing: boolean
  markShuttingDown(): void
}

export function createLifecycle (): Lifecycle & { markClosing(): void } {
  let ready = true
  let closing = false
  return {
    get ready () { return ready },
    get closing () { return closing },
    markShuttingDown () { ready = false },
    markClosing () { ready = false; closing = true },
  }
}

async function lifecyclePlugin (app: FastifyInstance): Promise<void> {
  const lifecycle = createLifecycle()
  app.decorate('lifecycle', lifecycle)
  app.addHook('preClose', async () => {
    lifecycle.markClosing()
  })
  // From the start of shutdown, every response closes its connection, so
  // kept-alive clients reconnect elsewhere and close() need not wait for their
  // keep-alive timeout; this includes requests that were in flight.
  // (Callback hooks, here and below: they run on every request, and an
  // async one costs a promise each time for nothing.)
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (!lifecycle.ready) reply.header('connection', 'close')
    done(null, payload)
  })
  // Once closing, requests that still arrive on kept-alive connections get a
  // problem+json 503 and the connection is closed, so clients retry elsewhere.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!lifecycle.closing) {
      done()
      return
    }
    reply.header('connection', 'close')
    done(new ProblemError('SHUTTING_DOWN', 'this gateway instance is shutting down; retry the request', {
      headers: { 'retry-after': '1' },
    }))
  })
}

export default fp(lifecyclePlugin, { name: 'lifecycle', fastify: '5.x', dependencies: ['problem'] })
