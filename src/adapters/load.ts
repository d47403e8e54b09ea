import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Adapter } from './types.ts'
import { schemaId } from './types.ts'

export const ADAPTERS_DIR = join(import.meta.dirname, '..', '..', 'adapters')
export const ADAPTER_SCHEMAS_DIR = join(import.meta.dirname, '..', '..', 'schemas', 'adapters')

export class AdapterDefinitionError extends Error {
  readonly code = 'ADAPTER_INVALID'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'AdapterDefinitionError'
  }
}

// Every `adapters/*.ts` file exports `adapter`; dropping in a new file (and its
// schema file) is all it takes to add a provider service.
export async function loadAdapters (dir: string = ADAPTERS_DIR): Promise<Adapter[]> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()
  const adapters: Adapter[] = []
  const seen = new Set<string>()
  for (const file of files) {
    const mod = await import(pathToFileURL(join(dir, file)).href) as { adapter?: Adapter }
    const adapter = mod.adapter
    if (adapter === undefined) throw new AdapterDefinitionError(`${file} does not export an adapter`)
    if (seen.has(adapter.operation)) throw new AdapterDefinitionError(`${file}: operation ${adapter.operation} is served twice`)
    seen.add(adapter.operation)
    adapters.push(adapter)
  }
  return adapters
}

export function loadAdapterSchemas (dir: string = ADAPTER_SCHEMAS_DIR): Array<Record<string, unknown>> {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((file) => {
    const schema = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>
    if (typeof schema.$id !== 'string') throw new AdapterDefinitionError(`schemas/adapters/${file} has no $id`)
    return schema
  })
}

export { schemaId }
