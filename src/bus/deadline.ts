// An overall deadline for one exchange, whose timer ends with it. A signal
// from AbortSignal.timeout cannot be cleared: each one fired seconds after
// its call had ended, making and dispatching a TimeoutError for nothing.
export function deadline (ms: number): { signal: AbortSignal, clear: () => void } {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms)
  timer.unref()
  return { signal: controller.signal, clear: () => clearTimeout(timer) }
}
