import type { Test } from 'tap'
import { loadAdapters, loadAdapterSchemas } from '../../src/adapters/load.ts'
import { createAdapterRuntime, type AdapterRuntimeOptions } from '../../src/adapters/runtime.ts'
import { createBusClients } from '../../src/bus/index.ts'
import type { MemberKeys } from '../../src/bus/member-keys.ts'
import type { Config } from '../../src/config.ts'

// An adapter runtime of its own, with the shipped adapters, for tests that
// need a fake clock, other schemas or other bus settings.
export async function createTestRuntime (t: Test, config: Config, exchangeUrl: string, keys: MemberKeys, overrides: Partial<AdapterRuntimeOptions> = {}) {
  const bus = createBusClients(config, exchangeUrl, keys)
  t.teardown(() => Promise.all([bus.rest.close(), bus.xyp.close()]))
  return createAdapterRuntime({
    adapters: await loadAdapters(),
    schemas: loadAdapterSchemas(),
    ...bus,
    breaker: { failureThreshold: 5, coolDownMs: 1000 },
    retry: { retries: 0, baseMs: 1, maxMs: 1 },
    ...overrides,
  })
}
