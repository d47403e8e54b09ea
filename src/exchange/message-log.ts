import { maskRegnumsInText } from '../domain/regnum.ts'

// Operational monitoring, X-Road style: one record per exchange the bus
// handled, on either transport, written once the exchange is over, including
// when the client closed the connection before it got the answer. Bodies are
// never stored, and anything shaped like a registration number (say, an
// officer's X-Road-UserId) is masked.

export interface MessageRecord {
  id: string
  transport: 'rest' | 'xyp'
  client: string | null
  service: string | null
  userId: string | null
  issue: string | null
  requestInTs: string
  // When the bus was done with the exchange: the answer written, or given up
  // on because the client had gone.
  responseOutTs: string
  durationMs: number
  // The status of the answer the bus sent, or meant to send when the client
  // had disconnected; 0 when it closed the connection without one (`down`).
  status: number
  // X-Road-Error type, or the SOAP fault code / non-zero XYP resultCode.
  error: string | null
  // The outcome of that answer: for a write, true means the agency took it.
  succeeded: boolean
  // The provider received the request (its service ran). False for bus
  // refusals, metaservices, injected failures and requests whose client left
  // before they reached the provider.
  delivered: boolean
  // The client closed the connection before the whole answer was written:
  // the caller never saw it, whatever status and succeeded say.
  clientDisconnected: boolean
  requestSize: number
  // Bytes of the answer, as meant when the client had disconnected.
  responseSize: number
  // XYP: how auth.citizen identified the citizen, by the strongest proof it
  // carried: a one-time code, a signature, or the bare registration number.
  // null on REST, or when the request named no citizen.
  citizenAuth: 'otp' | 'signature' | 'regnum' | null
  // XYP with citizenAuth 'otp': whether the bus accepted the code (null when
  // it was not checked: no code, or the call was refused before). The code
  // itself is never kept.
  citizenOtpValid: boolean | null
}

export interface MessageQuery {
  client?: string
  service?: string
  userId?: string
  citizenAuth?: 'otp' | 'signature' | 'regnum'
  limit?: number
}

export class MessageLog {
  readonly capacity: number
  readonly #ring: Array<MessageRecord | undefined>
  #next = 0
  #count = 0

  constructor (capacity: number) {
    this.capacity = Math.max(1, capacity)
    this.#ring = new Array<MessageRecord | undefined>(this.capacity)
  }

  record (entry: MessageRecord): void {
    this.#ring[this.#next] = {
      ...entry,
      userId: entry.userId === null ? null : maskRegnumsInText(entry.userId),
      issue: entry.issue === null ? null : maskRegnumsInText(entry.issue),
    }
    this.#next = (this.#next + 1) % this.capacity
    this.#count = Math.min(this.#count + 1, this.capacity)
  }

  // Newest first.
  query (q: MessageQuery = {}): MessageRecord[] {
    const limit = Math.min(Math.max(q.limit ?? 100, 1), this.capacity)
    const userId = q.userId === undefined ? undefined : maskRegnumsInText(q.userId)
    const out: MessageRecord[] = []
    for (let i = 1; i <= this.#count && out.length < limit; i++) {
      const e = this.#ring[(this.#next - i + this.capacity) % this.capacity]
      if (e === undefined) continue
      if (q.client !== undefined && e.client !== q.client) continue
      if (q.service !== undefined && e.service !== q.service) continue
      if (userId !== undefined && e.userId !== userId) continue
      if (q.citizenAuth !== undefined && e.citizenAuth !== q.citizenAuth) continue
      out.push(e)
    }
    return out
  }

  get size (): number {
    return this.#count
  }
}
