import type { Application, ApplicationStatus } from './store.ts'

// What an applicant reads: statuses and reasons in Mongolian and English.
// The agency gives its reasons in both; the gateway's own reasons are
// written in English (the admin list and logs read them) and said in
// Mongolian here, with the technical detail from the bus left as it came.

export type Lang = 'mn' | 'en'
export interface Bilingual { mn: string, en: string }

const STATUS: Readonly<Record<ApplicationStatus | 'approved' | 'rejected', Bilingual>> = {
  received: { mn: 'Хүлээн авсан', en: 'Received' },
  queued: { mn: 'Илгээхээр хүлээгдэж байна', en: 'Waiting to be sent to the agency' },
  delivering: { mn: 'Байгууллага руу илгээж байна', en: 'Being sent to the agency' },
  delivered: { mn: 'Байгууллагад хүрсэн, шийдвэр хүлээж байна', en: 'With the agency, awaiting its decision' },
  decided: { mn: 'Шийдвэрлэсэн', en: 'Decided' },
  approved: { mn: 'Шийдвэрлэсэн: зөвшөөрсөн', en: 'Decided: approved' },
  rejected: { mn: 'Шийдвэрлэсэн: татгалзсан', en: 'Decided: rejected' },
  failed: { mn: 'Хүргэж чадсангүй', en: 'Failed: not delivered' },
}

export function statusLabels (status: string, decision: string | null = null): Bilingual {
  const key = status === 'decided' && (decision === 'approved' || decision === 'rejected') ? decision : status
  return STATUS[key as keyof typeof STATUS] ?? { mn: status, en: status }
}

// The gateway's own reasons (delivery.ts, store.ts), by their English form.
const GATEWAY_REASONS: ReadonlyArray<[RegExp, (m: RegExpExecArray) => string]> = [
  [/^rejected by the agency: (.*)$/s, (m) => `Байгууллага хүлээн авсангүй: ${m[1]}`],
  [/^dead-lettered after (\d+) attempts: its workers stopped during delivery$/, (m) => `${m[1]} удаа оролдоод хүргэж чадсангүй: илгээж байх үед ажиллагаа зогссон`],
  [/^dead-lettered after (\d+) attempts: the queue gave up on its job.*$/s, (m) => `${m[1]} удаа оролдоод хүргэж чадсангүй: илгээх ажиллагаа зогссон`],
  [/^dead-lettered after (\d+) attempts: (.*)$/s, (m) => `${m[1]} удаа оролдоод хүргэж чадсангүй: ${m[2]}`],
  [/^(\d+) of (\d+) parts failed: (.*)$/s, (m) => `${m[2]} хэсгээс ${m[1]} нь амжилтгүй: ${m[3]}`],
]

export function reasonTexts (a: Pick<Application, 'reason' | 'reasonMn'>): Bilingual | null {
  if (a.reason === null) return null
  if (a.reasonMn !== null) return { mn: a.reasonMn, en: a.reason }
  for (const [pattern, mn] of GATEWAY_REASONS) {
    const m = pattern.exec(a.reason)
    if (m !== null) return { mn: mn(m), en: a.reason }
  }
  return { mn: a.reason, en: a.reason }
}
