// Shared helpers for the benchmarks: free ports, child processes, readiness,
// and reading a V8 CPU profile into "where the time goes".
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export const ROOT = join(import.meta.dirname, '..')

export function freePort (): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

export async function waitFor (url: string, seconds = 60): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    try {
      if ((await fetch(url)).ok) return
    } catch {}
    await sleep(100)
  }
  throw new Error(`${url} did not answer in ${seconds} s`)
}

export function start (script: string, env: Record<string, string>, nodeArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, join(ROOT, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
}

export async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  child.kill('SIGTERM')
  await new Promise((resolve) => child.on('exit', resolve))
}

export function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }

// Self time by area (our code, crypto, database, HTTP…) and the hottest functions.
export function summariseProfile (dir: string): string {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) return '(no profile written)'
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[], samples: number[] }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const counts = new Map<number, number>()
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1)
  const total = profile.samples.length
  const areas = new Map<string, number>()
  const fns = new Map<string, number>()
  for (const [id, n] of counts) {
    const node = byId.get(id)!
    const url = node.callFrame.url
    const area = node.callFrame.functionName === '(idle)' ? 'idle'
      : node.callFrame.functionName === '(garbage collector)' ? 'garbage collection'
        : url.includes('/node_modules/') ? `npm:${url.split('/node_modules/').pop()!.split('/').slice(0, url.includes('/node_modules/@') ? 2 : 1).join('/')}`
          : url.startsWith('node:') ? url
            : url.includes('/src/') ? `gateway:${url.split('/src/').pop()}`
              : url === '' ? `(native) ${node.callFrame.functionName}` : url
    areas.set(area, (areas.get(area) ?? 0) + n)
    const fn = `${node.callFrame.functionName || '(anonymous)'} ${area}`
    fns.set(fn, (fns.get(fn) ?? 0) + n)
  }
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k)
    .map(([name, n]) => `  ${((n / total) * 100).toFixed(1).padStart(5)}%  ${name}`).join('\n')
  return `self time by area:\n${top(areas, 15)}\nhottest functions:\n${top(fns, 15)}`
}
