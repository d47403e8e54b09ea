import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { eventually } from './eventually.ts'

export async function freePort (): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

// A Redis server of the test's own, by default kept the way the machines run
// it: nothing on disk, so a stop loses every key.
export async function privateRedis (t: Test, args: string[] = ['--save', '', '--appendonly', 'no']) {
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  let server: ChildProcess | null = null
  const ping = async () => {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => {})
    try {
      await probe.connect()
      return (await probe.ping()) === 'PONG'
    } catch {
      return undefined
    } finally {
      probe.disconnect()
    }
  }
  const start = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...args], { stdio: 'ignore' })
    await eventually(ping)
  }
  const stop = async () => {
    const s = server
    if (s === null || s.exitCode !== null) return
    s.kill('SIGKILL')
    await once(s, 'exit')
  }
  t.teardown(stop)
  await start()
  return { url, port, start, stop }
}

