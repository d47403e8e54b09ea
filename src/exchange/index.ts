// The bus emulator's public surface. The gateway imports only this module,
// and only in its composition root; everything else talks to the bus over HTTP.
import type { FastifyInstance } from 'fastify'
import { buildExchange, type ExchangeOptions } from './app.ts'

export { buildExchange, DEFAULT_DECISION_DELAY_MS } from './app.ts'
export type { ExchangeOptions } from './app.ts'
export type { MemberDefinition } from './members.ts'
export type { BusSigningKeyInput } from './bus-keys.ts'
export { RESPONSE_SIGNATURE_TYP } from './bus-keys.ts'
export type { FaultSettings } from './faults.ts'
export type { MessageRecord } from './message-log.ts'
export { generatePopulation, DEFAULT_CITIZENS, DEFAULT_SEED, REFERENCE_DATE } from './population.ts'
export type { Citizen, Population } from './population.ts'
export { PROVIDERS } from './providers.ts'
export { XYP_PATH } from './xyp-transport.ts'
export { XYP_META_PATH } from './xyp-meta.ts'
export { loadMembersFile, defaultGatewayMember, DEV_XYP_ACCESS_TOKEN, GATEWAY_MEMBER_ID } from './members-file.ts'

export interface StartExchangeOptions extends ExchangeOptions {
  // Default 3100 and 127.0.0.1; port 0 picks a free port.
  port?: number
  host?: string
}

export interface RunningExchange {
  // Base URL, no trailing slash: http://127.0.0.1:3100
  url: string
  app: FastifyInstance
  close: () => Promise<void>
}

export async function startExchange (options: StartExchangeOptions = {}): Promise<RunningExchange> {
  const { port = 3100, host = '127.0.0.1', ...rest } = options
  const app = buildExchange(rest)
  await app.listen({ port, host })
  const address = app.server.address()
  const actualPort = typeof address === 'object' && address !== null ? address.port : port
  const shownHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${shownHost}:${actualPort}`,
    app,
    close: async () => { await app.close() },
  }
}
