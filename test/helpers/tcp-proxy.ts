import { once } from 'node:events'
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'

export interface TcpProxy {
  // 127.0.0.1:<port> forwards to the target.
  port: number
  // An outage: every open connection is destroyed and new ones are reset at once.
  cut(): void
  restore(): void
  // Connections forwarded, and refused while cut, so far.
  readonly forwarded: number
  readonly refused: number
  close(): Promise<void>
}

// A TCP proxy a test controls, in front of a shared service (PostgreSQL) that
// the test must never stop itself. While cut, the proxy keeps its port and
// resets new connections rather than closing the listener, so restore()
// cannot lose the port to another process.
export async function startTcpProxy (target: { host: string, port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>()
  let down = false
  let forwarded = 0
  let refused = 0
  const server = createServer({ noDelay: true }, (client) => {
    if (down) {
      refused++
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    forwarded++
    const upstream = connect({ host: target.host, port: target.port, noDelay: true })
    for (const s of [client, upstream]) {
      open.add(s)
      s.on('error', () => {})
      s.on('close', () => {
        open.delete(s)
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    cut () {
      down = true
      for (const s of open) s.resetAndDestroy()
      open.clear()
    },
    restore () {
      down = false
    },
    get forwarded () { return forwarded },
    get refused () { return refused },
    async close () {
      down = true
      for (const s of open) s.destroy()
      open.clear()
      server.close()
      await once(server, 'close')
    },
  }
}
