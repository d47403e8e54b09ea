// Shared helpers for the benchmarks: free ports, child processes, readiness,
// and reading a V8 CPU profile into "where the time goes".
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { appendFileSync, chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
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
  return spawn(process.execPath, [...nodeArgs, resolve(ROOT, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
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

// Access tokens from the development issuer in dataDir, signed on node:crypto
// so the load driver keeps up; a fresh jti each time (tokens are single-use).
export async function devTokenMinter (dataDir: string): Promise<(claims: Record<string, unknown>) => string> {
  const { createPrivateKey, randomUUID } = await import('node:crypto')
  const { createEd25519Signer } = await import('../src/bus/jws.ts')
  const { DEV_AUDIENCE, DEV_ISSUER, DEV_TYP, devIssuerFiles } = await import('../src/auth/dev-issuer.ts')
  const jwk = JSON.parse(readFileSync(devIssuerFiles(dataDir).privateJwkFile, 'utf8'))
  const signer = createEd25519Signer(createPrivateKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, format: 'jwk' }), jwk.kid)
  return (claims) => {
    const iat = Math.floor(Date.now() / 1000)
    return signer.sign({ iss: DEV_ISSUER, aud: DEV_AUDIENCE, iat, exp: iat + 300, jti: randomUUID(), ...claims }, DEV_TYP)
  }
}

// SCAN + DEL of every key under a prefix; returns how many went.
export async function deleteRedisKeys (url: string, prefix: string): Promise<number> {
  const { Redis } = await import('ioredis')
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  let deleted = 0
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
  return deleted
}

export async function dropPgSchema (url: string, schema: string): Promise<void> {
  const pg = (await import('pg')).default
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

// Every process id in /proc (Linux); [] elsewhere.
function procPids (): string[] {
  try {
    return readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p))
  } catch {
    return []
  }
}

// CPU seconds used so far by each process of a group (Linux /proc): pids, or
// a pattern for /proc/<pid>/comm (e.g. every PostgreSQL backend). Two readings
// say which process a phase's time went to; elsewhere the groups are empty.
export type CpuReading = Record<string, Map<string, number>>
export function cpuSeconds (groups: Record<string, Array<number | undefined> | RegExp>): CpuReading {
  const ticks = 100 // USER_HZ on Linux
  const read = (pid: number | string) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ')
      return (Number(fields[11]) + Number(fields[12])) / ticks
    } catch {
      return null
    }
  }
  const procs = procPids()
  const comm = (pid: string) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
    } catch {
      return ''
    }
  }
  const out: CpuReading = {}
  for (const [name, which] of Object.entries(groups)) {
    const pids = Array.isArray(which) ? which.filter((p) => p !== undefined).map(String) : procs.filter((p) => which.test(comm(p)))
    out[name] = new Map(pids.flatMap((p) => {
      const t = read(p)
      return t === null ? [] : [[p, t] as const]
    }))
  }
  return out
}

// CPU seconds each group used between two readings, by process, so
// processes that start or end in between are counted right (one that ended
// loses only its last stretch).
export function cpuUsed (before: CpuReading, after: CpuReading): Record<string, number> {
  return Object.fromEntries(Object.entries(after).filter(([, pids]) => pids.size > 0).map(([name, pids]) => {
    let used = 0
    for (const [pid, t] of pids) used += t - (before[name]?.get(pid) ?? 0)
    return [name, used]
  }))
}

// "gateway 72%, postgres 80%…": per cent of one core between two readings.
export function cpuShare (before: CpuReading, after: CpuReading, seconds: number): string {
  return Object.entries(cpuUsed(before, after)).map(([name, used]) => `${name} ${Math.round((100 * used) / seconds)}%`).join(', ')
}

// Share of the machine's CPU in use over `ms` (Linux /proc/stat), to tell
// whether other work is running beside a benchmark; null elsewhere.
export async function machineBusy (ms = 1000): Promise<number | null> {
  const read = () => {
    try {
      const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number)
      return { total: f.reduce((s, x) => s + x, 0), idle: (f[3] ?? 0) + (f[4] ?? 0) }
    } catch {
      return null
    }
  }
  const a = read()
  await sleep(ms)
  const b = read()
  if (a === null || b === null || b.total === a.total) return null
  return 1 - (b.idle - a.idle) / (b.total - a.total)
}

// ---- real processes for fault injection (bench/chaos.ts) -------------------

// Polls a condition until it holds or the time is up; returns whether it held.
export async function until (check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await check()) return true
    } catch {}
    if (Date.now() > end) return false
    await sleep(everyMs)
  }
}

// A gateway entry point as its own process with only the environment given
// (plus PATH and HOME), so a developer's shell settings do not leak in; its
// output is appended to logFile.
export function startLogged (script: string, env: Record<string, string>, logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a')
  try {
    return spawn(process.execPath, [join(ROOT, script)], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env },
      stdio: ['ignore', fd, fd],
    })
  } finally {
    closeSync(fd)
  }
}

export function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

// The last lines of a log file, to show why a process stopped.
export function tail (file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

function run (cmd: string, args: string[], options: { cwd?: string, logFile?: string } = {}): Promise<void> {
  const fd = options.logFile === undefined ? 'ignore' : openSync(options.logFile, 'a')
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', fd, fd] })
    if (typeof fd === 'number') closeSync(fd)
    child.once('error', reject)
    // 'exit', not 'close': pg_ctl leaves the server running with our log open.
    child.once('exit', (code, signal) => code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}${options.logFile === undefined ? '' : `:\n${tail(options.logFile, 10)}`}`)))
  })
}

export interface OwnPostgres {
  url: string
  port: number
  start (): Promise<void>
  // fast: sessions are ended and the server shuts down cleanly; immediate: a crash.
  stop (mode?: 'fast' | 'immediate'): Promise<void>
  destroy (): Promise<void>
}

// A throwaway PostgreSQL cluster on a free port, in a temporary directory,
// trust authentication on 127.0.0.1, fsync on. initdb refuses root, so as root
// the binaries run as the `postgres` user on a directory it owns.
export async function startOwnPostgres (): Promise<OwnPostgres> {
  const base = '/usr/lib/postgresql'
  const version = existsSync(base) ? readdirSync(base).filter((v) => /^[0-9]+$/.test(v)).sort((a, b) => Number(b) - Number(a))[0] : undefined
  const bin = process.env.PG_BIN ?? (version === undefined ? '' : join(base, version, 'bin'))
  if (!existsSync(join(bin, 'initdb'))) throw new Error(`no initdb in ${bin || base}/*/bin; set PG_BIN`)
  const root = mkdtempSync(join(tmpdir(), 'chaos-oss-pg-'))
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
    chownSync(root, id('-u'), id('-g'))
  }
  const data = join(root, 'data')
  // The server's own log (written by postgres) and the tools' output (by us).
  const log = join(root, 'postgres.log')
  const tools = join(root, 'tools.log')
  const pg = (tool: string, args: string[]) => asRoot
    ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { cwd: root, logFile: tools })
    : run(join(bin, tool), args, { cwd: root, logFile: tools })
  const port = await freePort()
  await pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'])
  appendFileSync(join(data, 'postgresql.conf'), `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${root}'\nmax_connections = 200\n`)
  const start = () => pg('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '120', 'start'])
  await start()
  let gone = false
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop: (mode = 'fast') => pg('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '120', 'stop']),
    async destroy () {
      if (gone) return
      gone = true
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {})
      rmSync(root, { recursive: true, force: true })
    },
  }
}

export interface OwnRedis {
  url: string
  port: number
  start (): Promise<void>
  stop (signal?: NodeJS.Signals): Promise<void>
  destroy (): Promise<void>
}

// redis-server on a free port, run as the machines run it: no RDB, no AOF,
// so a restart comes back empty.
export async function startOwnRedis (): Promise<OwnRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'chaos-oss-redis-'))
  let child: ChildProcess | null = null
  const ping = () => new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.setTimeout(1000)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (d) => { socket.destroy(); resolve(String(d).startsWith('+PONG')) })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => { socket.destroy(); resolve(false) })
  })
  async function start (): Promise<void> {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
    if (!await until(ping, 30_000)) throw new Error(`redis-server did not answer on ${port}`)
  }
  async function stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (child === null) return
    const c = child
    child = null
    c.kill(signal)
    await exited(c)
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async destroy () {
      await stop('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface TcpProxy {
  url: string
  port: number
  // The network goes away: every connection is reset, new ones are refused.
  cut (): Promise<void>
  restore (): Promise<void>
  close (): Promise<void>
}

// A TCP proxy to 127.0.0.1:targetPort, to take a network path away and back.
export async function startTcpProxy (targetPort: number): Promise<TcpProxy> {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | null = null
  const pair = (client: Socket) => {
    const upstream = connect(targetPort, '127.0.0.1')
    const end = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    sockets.add(client)
    sockets.add(upstream)
    for (const s of [client, upstream]) {
      s.on('error', end)
      s.on('close', end)
    }
    client.pipe(upstream)
    upstream.pipe(client)
  }
  const listen = () => new Promise<void>((resolve, reject) => {
    const s = createServer(pair)
    s.once('error', reject)
    s.listen(port, '127.0.0.1', () => {
      server = s
      resolve()
    })
  })
  const cut = async () => {
    const s = server
    server = null
    const closed = s === null ? Promise.resolve() : new Promise<void>((resolve) => s.close(() => resolve()))
    for (const socket of sockets) {
      try {
        socket.resetAndDestroy()
      } catch {
        socket.destroy()
      }
    }
    sockets.clear()
    await closed
  }
  await listen()
  return { url: `http://127.0.0.1:${port}`, port, cut, restore: listen, close: cut }
}

// The local ports of a process's TCP connections to PostgreSQL on `pgPort` (Linux /proc).
export function pgClientPorts (pid: number, pgPort: number): number[] {
  const inodes = new Set<string>()
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m !== null) inodes.add(m[1]!)
      } catch {}
    }
  } catch {
    return []
  }
  const ports: number[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || !inodes.has(f[9]!)) continue
      const remotePort = parseInt(f[2]!.split(':')[1]!, 16)
      if (remotePort === pgPort) ports.push(parseInt(f[1]!.split(':')[1]!, 16))
    }
  }
  return ports
}

// The PostgreSQL backends (their pids) serving the connections of a process
// (or of several: a gateway and its cluster workers): their share of the
// database's CPU, apart from every other session's.
export async function pgBackendsOf (pids: number | number[], pgPort: number, query: (sql: string, params: unknown[]) => Promise<{ rows: Array<{ pid: number }> }>): Promise<number[]> {
  const ports = (Array.isArray(pids) ? pids : [pids]).flatMap((pid) => pgClientPorts(pid, pgPort))
  if (ports.length === 0) return []
  const { rows } = await query('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [ports])
  return rows.map((r) => r.pid)
}

// The environment of a benchmark's gateway and workers: its own schema and
// key prefix, logs at warn, the worker off, decision polls an hour out, no
// reconciler and no statistics fold (it folds the events of one path while
// the next is measured; \`npm run bench:stats\` measures its cost), so that
// nothing runs inside a measured window unasked.
export function benchGatewayEnv (o: { dataDir: string, bus: string, databaseUrl: string, schema: string, redisUrl: string, keyPrefix: string }): Record<string, string> {
  return {
    DATA_DIR: o.dataDir,
    EXCHANGE_URL: o.bus,
    DATABASE_URL: o.databaseUrl,
    DATABASE_SCHEMA: o.schema,
    REDIS_URL: o.redisUrl,
    REDIS_KEY_PREFIX: o.keyPrefix,
    LOG_LEVEL: 'warn',
    WORKER: 'off',
    DECISION_POLL_MS: '3600000',
    RECONCILE_INTERVAL_MS: '0',
    STATS_FOLD_INTERVAL_MS: '0',
  }
}

// ---- one run of every path (bench/run.ts) ------------------------------------

// Every process below `pid` (its children, theirs…), from the ppid field of
// /proc/<pid>/stat: a gateway's cluster workers, nginx's workers. [] elsewhere.
export function descendantsOf (pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const p of procPids()) {
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ').pop()!.split(' ')[1])
      children.set(ppid, [...children.get(ppid) ?? [], Number(p)])
    } catch {}
  }
  const found: number[] = []
  for (let queue = [pid]; queue.length > 0;) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child)
      queue.push(child)
    }
  }
  return found
}

// A process and all its descendants.
export function processTree (pid: number | undefined): number[] {
  return pid === undefined ? [] : [pid, ...descendantsOf(pid)]
}

// Stops a child and then whatever it started and left behind (by pid:
// processes of our own tree only), SIGKILL after 10 s.
export async function stopTree (child: ChildProcess): Promise<void> {
  const below = child.pid === undefined ? [] : descendantsOf(child.pid)
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    if (!await until(() => child.exitCode !== null || child.signalCode !== null, 10_000)) child.kill('SIGKILL')
    await exited(child)
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  for (const pid of below.filter(alive)) process.kill(pid, 'SIGTERM')
  if (!await until(() => !below.some(alive), 10_000)) for (const pid of below.filter(alive)) process.kill(pid, 'SIGKILL')
}

// `cleanup` at most once: when called, or on SIGINT/SIGTERM (then exit 130).
export function cleanupOnce (cleanup: () => Promise<void>): () => Promise<void> {
  let cleaned: Promise<void> | null = null
  const once = () => (cleaned ??= cleanup())
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up`)
      void once().finally(() => process.exit(130))
    })
  }
  return once
}

// A measured run: successful requests per second, latency in ms, failures.
export interface LoadResult { ok: number, seconds: number, rps: number, p50: number, p99: number, errors: number, detail: string[] }

// `connections` loops, each awaiting `once` (true: success) again and again
// for `seconds`: for a driver that is itself a client (the bus client).
export async function closedLoops (connections: number, seconds: number, once: () => Promise<boolean>): Promise<LoadResult> {
  const latencies: number[] = []
  const detail: string[] = []
  let errors = 0
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const t = performance.now()
      const ok = await once().catch((err: unknown) => {
        if (detail.length < 5) detail.push(String((err as Error).message ?? err))
        return false
      })
      if (ok) latencies.push(performance.now() - t)
      else errors++
    }
  }))
  const elapsed = (performance.now() - t0) / 1000
  latencies.sort((a, b) => a - b)
  return { ok: latencies.length, seconds: elapsed, rps: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors, detail }
}

export interface CannonRequest { method: 'GET' | 'POST', path: string, headers?: Record<string, string>, body?: string }

// autocannon against `url` for `seconds` (or `amount` requests), each request
// made afresh by `make` (a new token each time); only `okStatus` answers count.
export async function cannon (o: { url: string, connections: number, seconds?: number, amount?: number, make: () => CannonRequest, okStatus?: number }): Promise<LoadResult> {
  const { default: autocannon } = await import('autocannon')
  const okStatus = o.okStatus ?? 200
  const statuses = new Map<number, number>()
  const samples: string[] = []
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    ...(o.amount === undefined ? { duration: o.seconds ?? 5 } : { amount: o.amount }),
    requests: [{
      setupRequest: (req: Record<string, any>) => ({ ...req, ...o.make() }),
      onResponse: (status: number, body: string) => {
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        if (status !== okStatus && samples.length < 5) samples.push(`${status} ${body.slice(0, 300)}`)
      },
    }],
  })
  const ok = statuses.get(okStatus) ?? 0
  const other = [...statuses].filter(([s]) => s !== okStatus)
  return {
    ok,
    seconds: result.duration,
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: other.reduce((sum, [, c]) => sum + c, 0) + result.errors + result.timeouts,
    detail: [...other.map(([s, c]) => `${c} × ${s}`), ...(result.errors + result.timeouts > 0 ? [`${result.errors} errors, ${result.timeouts} timeouts`] : []), ...samples],
  }
}

// The officer the benchmarks act as, at a counter of unit 8322.
export const BENCH_OFFICER = { sub: 'bench-officer', role: 'officer', unit: '8322', agency: 'GOSW' }

// What intake benchmarks submit at the officer's counter: a service offered
// there at the counter with a write adapter, its schema's first example as
// the form, and citizens the emulator knows, so that the agency accepts them.
export async function intakeTarget (unit = BENCH_OFFICER.unit): Promise<{ service: string, adapter: string, form: object, citizens: string[] }> {
  const { buildSeedDocument } = await import('../src/catalogue/seed.ts')
  const { createSnapshot } = await import('../src/catalogue/snapshot.ts')
  const { generatePopulation } = await import('../src/exchange/index.ts')
  const offer = [...createSnapshot(1, 'seed', buildSeedDocument()).offers(unit).values()]
    .find((o) => o.service.applicants.includes('officer') && o.channels.includes('oss_counter') && o.service.adapter !== undefined && !o.service.adapter.startsWith('veterinary'))!
  return {
    service: offer.service.code,
    adapter: offer.service.adapter!,
    form: (offer.service.formSchema.examples as object[])[0]!,
    citizens: generatePopulation().livingAdults().slice(0, 1000).map((c) => c.regnum),
  }
}

// The emulator's agencies, summed: distinct applications received (which
// makes exactly-once delivery checkable), submissions and idempotent replays.
export async function agencyCounters (bus: string): Promise<{ received: number, submissions: number, replays: number }> {
  type Counters = { applicationsReceived: number, submissions: number, idempotentReplays: number }
  const { providers } = await (await fetch(`${bus}/admin/providers`)).json() as { providers: Array<{ counters?: Counters }> }
  const total = (k: keyof Counters) => providers.reduce((s, p) => s + (p.counters?.[k] ?? 0), 0)
  return { received: total('applicationsReceived'), submissions: total('submissions'), replays: total('idempotentReplays') }
}

type Query = (sql: string, params?: unknown[]) => Promise<{ rows: any[] }>

// Applications by status in a gateway schema.
export async function applicationStatuses (query: Query, schema: string): Promise<Record<string, number>> {
  const { rows } = await query(`SELECT status, count(*)::int AS n FROM "${schema}".applications GROUP BY status`)
  return Object.fromEntries(rows.map((r: { status: string, n: number }) => [r.status, r.n]))
}

// Waits until the gateway's outbox relay has moved every row into BullMQ;
// returns the seconds it took.
export async function outboxDrained (query: Query, schema: string, timeoutMs = 300_000): Promise<number> {
  const t0 = performance.now()
  const empty = async () => (await query(`SELECT NOT EXISTS (SELECT 1 FROM "${schema}".application_outbox) AS empty`)).rows[0].empty === true
  if (!await until(empty, timeoutMs, 50)) throw new Error(`the outbox did not drain in ${timeoutMs / 1000} s`)
  return (performance.now() - t0) / 1000
}

// The nginx binary: on PATH, or Debian's /usr/sbin/nginx; null when absent.
export function nginxBinary (): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin']) {
    if (existsSync(join(dir, 'nginx'))) return join(dir, 'nginx')
  }
  return null
}

export interface Nginx { url: string, child: ChildProcess, version: string, workers: string, stop (): Promise<void> }

// nginx in the foreground with everything in a temporary directory (no
// root-owned paths): `/` proxied to 127.0.0.1:upstreamPort over kept-alive
// connections, and `files` (request path → body) served from disk as
// application/json. Access log off.
export async function startNginx (o: { upstreamPort: number, files?: Record<string, string | Buffer>, workerProcesses?: number | 'auto' }): Promise<Nginx> {
  const bin = nginxBinary()
  if (bin === null) throw new Error('nginx not installed (Debian: apt-get install nginx-light)')
  const dir = mkdtempSync(join(tmpdir(), 'oss-bench-nginx-'))
  // Readable by the workers, which drop to an unprivileged user under root.
  chmodSync(dir, 0o755)
  const www = join(dir, 'www')
  for (const [path, body] of Object.entries(o.files ?? {})) {
    mkdirSync(join(www, dirname(path)), { recursive: true, mode: 0o755 })
    writeFileSync(join(www, path), body, { mode: 0o644 })
  }
  const port = await freePort()
  const workers = String(o.workerProcesses ?? 1)
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, `${t}-temp`)};`).join('\n')
  writeFileSync(join(dir, 'nginx.conf'), `worker_processes ${workers};
error_log ${join(dir, 'error.log')} warn;
pid ${join(dir, 'nginx.pid')};
events { worker_connections 4096; }
http {
  access_log off;
${temp}
  keepalive_requests 1000000;
  upstream upstream_app {
    server 127.0.0.1:${o.upstreamPort};
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://upstream_app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
${Object.keys(o.files ?? {}).map((path) => `    location = ${path} {\n      root ${www};\n      default_type application/json;\n    }`).join('\n')}
  }
}
`)
  const version = spawnSync(bin, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '') || 'nginx'
  const child = spawn(bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  const up = await until(async () => child.exitCode !== null || (await fetch(url, { method: 'HEAD' }), true), 15_000)
  const stopIt = async () => {
    await stopTree(child)
    rmSync(dir, { recursive: true, force: true })
  }
  if (!up || child.exitCode !== null) {
    const log = tail(join(dir, 'error.log'))
    await stopIt()
    throw new Error(`nginx did not start: ${log}`)
  }
  return { url, child, version, workers, stop: stopIt }
}
