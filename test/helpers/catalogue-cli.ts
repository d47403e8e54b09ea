import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'

// Running `npm run catalogue` (src/cli/catalogue.ts) as a child process.

const run = promisify(execFile)
const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'catalogue.ts')

// Port 9 (discard): no gateway answers there, so the command opens the store.
export const NO_GATEWAY = { PORT: '9' }

export function cliWith (env: Record<string, string | undefined>) {
  return (...args: string[]) => run(process.execPath, [CLI, ...args], { maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }))
}

// A directory of this run's own: tap's testdir() is named after the test, so
// two runs at once (several people on one tree) would share and wipe it.
export function ownDir (tt: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oss-catalogue-cli-'))
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// What a running gateway on the embedded store leaves in DATA_DIR: the lock,
// held by a live process (this one).
export function lockEmbeddedStore (dataDir: string): void {
  mkdirSync(join(dataDir, 'db'), { recursive: true })
  writeFileSync(join(dataDir, 'db', 'pglite.lock'), String(process.pid))
}
