import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

export interface ServerProcess {
  child: ChildProcess
  lines: string[]
  url: Promise<string>
  // Resolves with the first log line that matches.
  waitFor(pattern: RegExp): Promise<string>
  exit: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  stderr(): string
}

// Runs a gateway entry point as its own process on Node 24 (this process's
// binary) and follows its JSON log lines.
export function spawnServer (script: string, env: Record<string, string>): ServerProcess {
  const base = { ...process.env }
  for (const key of Object.keys(base)) {
    if (/^(DATABASE_|REDIS_|AUTH_|BUS_|EXCHANGE_|PORT$|HOST$|DATA_DIR$|SHUTDOWN_)/.test(key)) delete base[key]
  }
  // The bundled emulator takes a free port, so servers can run side by side.
  const child = spawn(process.execPath, [script], { env: { ...base, EXCHANGE_PORT: '0', EXCHANGE_CITIZENS: '500', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  const waiters: Array<{ pattern: RegExp, resolve: (line: string) => void }> = []
  let errText = ''
  child.stderr!.on('data', (d) => { errText += String(d) })
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(line)
      }
    }
  })
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  const waitFor = (pattern: RegExp) => {
    const seen = lines.find((l) => pattern.test(l))
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise<string>((resolve, reject) => {
      waiters.push({ pattern, resolve })
      exit.then(({ code }) => reject(new Error(`server exited (${code}) before logging ${pattern}: ${errText}`)), () => {})
    })
  }
  const url = waitFor(/Server listening at/).then((line) => (JSON.parse(line).msg as string).replace('Server listening at ', ''))
  url.catch(() => {}) // only awaited by tests that expect a start
  return { child, lines, url, waitFor, exit, stderr: () => errText }
}
