import t from 'tap'
import { CircuitBreaker, CircuitOpenError } from '../../src/bus/breaker.ts'

t.test('opens after consecutive failures, half-opens for one probe, closes on success', async (tt) => {
  let clock = 1_000_000
  const b = new CircuitBreaker('land', { failureThreshold: 3, coolDownMs: 10000, now: () => clock })
  b.acquire(); b.failure()
  b.acquire(); b.success()
  tt.equal(b.state, 'closed', 'a success resets the count')
  for (let i = 0; i < 3; i++) { b.acquire(); b.failure() }
  tt.equal(b.state, 'open')
  tt.throws(() => b.acquire(), CircuitOpenError)
  clock += 4000
  tt.match((() => { try { b.acquire() } catch (e) { return e } })(), { retryAfterMs: 6000 })
  clock += 6000
  tt.equal(b.state, 'half-open')
  b.acquire()
  tt.throws(() => b.acquire(), CircuitOpenError, 'only one probe at a time')
  b.failure()
  tt.equal(b.state, 'open', 'a failed probe reopens at once')
  clock += 10000
  b.acquire(); b.success()
  tt.equal(b.state, 'closed')
})

t.test('a released probe lets the next one through', async (tt) => {
  let clock = 0
  const b = new CircuitBreaker('civil', { failureThreshold: 1, coolDownMs: 100, now: () => clock })
  b.acquire(); b.failure()
  clock = 100
  b.acquire(); b.release()
  tt.doesNotThrow(() => b.acquire())
})
