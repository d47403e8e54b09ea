import { setTimeout as sleep } from 'node:timers/promises'
import type { Worker } from 'bullmq'
import type { Redis } from 'ioredis'

// Closes a worker: the jobs in flight finish first, for at most `graceMs`;
// then its connection goes. A job cut short is not lost: its lock lapses and
// another worker takes it over. With Redis away there is nothing to finish,
// and BullMQ would wait for Redis forever: the worker is closed by force.
export async function closeWorker (worker: Pick<Worker, 'close'>, connection: Redis, graceMs: number): Promise<void> {
  const closing = worker.close(connection.status !== 'ready')
  closing.catch(() => {})
  const timeout = new AbortController()
  await Promise.race([closing, sleep(graceMs, undefined, { signal: timeout.signal }).catch(() => {})])
  timeout.abort()
  connection.disconnect()
}

// Closes a queue, then its connection. BullMQ's close waits for a connection
// that is not ready (Redis away, or reconnecting) forever: it gets `graceMs`.
export async function closeQueue (queue: { close(): Promise<void> }, connection: Redis, graceMs: number): Promise<void> {
  const closing = queue.close()
  closing.catch(() => {})
  const timeout = new AbortController()
  await Promise.race([closing, sleep(graceMs, undefined, { signal: timeout.signal }).catch(() => {})])
  timeout.abort()
  connection.disconnect()
}
