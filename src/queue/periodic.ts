import type { FastifyBaseLogger } from 'fastify'

// A task that runs now and then, and at once when nudged: the relays that
// drain a table into a queue, and the reconcilers. One run at a time; a nudge
// during a run starts another right after. A run that fails (Redis or the
// database away) is tried again at the next tick; its failure is logged once,
// and so is the recovery.
export function createPeriodic (options: { run: () => Promise<void>, intervalMs: number, log: FastifyBaseLogger, what: string }) {
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> | null = null
  let again = false
  let stopped = false
  let failing = false

  function tick (): Promise<void> {
    if (running !== null) {
      again = true
      return running
    }
    running = options.run().then(() => {
      if (failing) options.log.info(`the ${options.what} works again`)
      failing = false
    }, (err) => {
      if (!failing) options.log.warn({ err }, `the ${options.what} cannot run; it tries again`)
      failing = true
    }).finally(() => {
      running = null
      if (again && !stopped) {
        again = false
        void tick()
      }
    })
    return running
  }

  return {
    nudge (): void {
      if (!stopped) void tick()
    },
    start (): void {
      stopped = false
      timer = setInterval(() => void tick(), options.intervalMs)
      timer.unref()
      void tick()
    },
    async stop (): Promise<void> {
      stopped = true
      if (timer !== null) clearInterval(timer)
      await running
    },
    tick,
  }
}

export type Periodic = ReturnType<typeof createPeriodic>
