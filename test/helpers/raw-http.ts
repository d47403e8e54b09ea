import { connect } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

// Sends bytes exactly as given (no client-side encoding or validation, as
// curl or a broken client would) and reads until the server closes.
export function rawRequest (port: number, request: Buffer | string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    // Written, not ended: a half-closed socket may be dropped before the answer.
    const socket = connect(port, '127.0.0.1', () => { socket.write(request) })
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    // The server may reset the connection after answering a request it could
    // not parse; what it wrote before that is the answer.
    socket.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err) })
    socket.on('close', () => {
      const bytes = Buffer.concat(chunks)
      const end = bytes.indexOf('\r\n\r\n')
      if (end < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(bytes.toString('utf8', 0, 200))}`))
      const [statusLine, ...lines] = bytes.toString('latin1', 0, end).split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      let body: Buffer = bytes.subarray(end + 4)
      if (headers['transfer-encoding'] === 'chunked') body = dechunk(body)
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: body.toString('utf8') })
    })
  })
}

function dechunk (rest: Buffer): Buffer {
  const parts: Buffer[] = []
  for (;;) {
    const eol = rest.indexOf('\r\n')
    const size = parseInt(rest.toString('latin1', 0, eol), 16)
    if (!(size > 0)) return Buffer.concat(parts)
    parts.push(rest.subarray(eol + 2, eol + 2 + size))
    rest = rest.subarray(eol + 2 + size + 2)
  }
}

// A GET request line with the path written as raw UTF-8 bytes.
export function rawGet (path: string, headers: Record<string, string> = {}): Buffer {
  const head = Object.entries({ host: 'localhost', connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  return Buffer.concat([Buffer.from('GET '), Buffer.from(path, 'utf8'), Buffer.from(` HTTP/1.1\r\n${head}\r\n`)])
}
