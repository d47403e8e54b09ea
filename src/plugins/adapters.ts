import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../config.ts'
import type { BusClients } from '../bus/index.ts'
import { loadAdapters, loadAdapterSchemas } from '../adapters/load.ts'
import { createAdapterRuntime, type AdapterRuntime } from '../adapters/runtime.ts'
import type { AdapterContext } from '../adapters/types.ts'

declare module 'fastify' {
  interface FastifyInstance {
    adapters: AdapterRuntime
  }
  interface FastifyRequest {
    // Calls an adapter on behalf of this request: its id goes to the bus as
    // X-Road-Id, so the bus's message log joins up with the gateway's logs.
    callAdapter<T = unknown>(operation: string, body: unknown, ctx?: AdapterContext): Promise<T>
  }
}

export interface AdaptersPluginOptions {
  bus: BusClients
  settings: Config['bus']
}

// Every call to an agency goes through here: the adapters of adapters/, their
// schemas, one circuit breaker per provider, and the signed bus clients.
async function adaptersPlugin (app: FastifyInstance, { bus, settings }: AdaptersPluginOptions): Promise<void> {
  const runtime = createAdapterRuntime({
    adapters: await loadAdapters(),
    schemas: loadAdapterSchemas(),
    rest: bus.rest,
    xyp: bus.xyp,
    breaker: { failureThreshold: settings.breakerFailures, coolDownMs: settings.breakerCoolDownMs },
    retry: { retries: settings.readRetries, baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs },
    registry: app.metrics.registry,
  })
  app.decorate('adapters', runtime)
  app.decorateRequest('callAdapter', function <T>(this: FastifyRequest, operation: string, body: unknown, ctx: AdapterContext = {}): Promise<T> {
    return runtime.invoke<T>(operation, body, { xRoadId: this.id, ...ctx })
  })
  app.addHook('onClose', async () => {
    await Promise.all([bus.rest.close(), bus.xyp.close()])
  })
}

export default fp(adaptersPlugin, { name: 'adapters', fastify: '5.x', dependencies: ['metrics'] })
