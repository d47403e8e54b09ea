import type { Channel, MobileRound, Service } from './document.ts'
import type { Snapshot } from './snapshot.ts'

// The one rule of where a service is offered through which channel. The
// public list (`/v1/services?unit=&channel=`), the where-you-live view and
// application intake all ask here, so what is listed is what is accepted.
//
// - online: the service takes online applications and citizens may apply.
// - oss_counter: the OSS of the unit offers it at its counter (its level's
//   standard list with the unit's local departures) and officers may submit it.
// - mobile_oss: a mobile round that is on or still to come on `on` reaches the
//   unit (the soum it starts from, or one of its bags) and brings the service.
export function offeredThrough (snap: Snapshot, service: Service, unit: string, channel: Channel, on: string): boolean {
  if (!service.channels.includes(channel)) return false
  switch (channel) {
    case 'online':
      return service.applicants.includes('citizen')
    case 'oss_counter':
      return service.applicants.includes('officer') && snap.offers(unit).get(service.code)?.channels.includes('oss_counter') === true
    case 'mobile_oss':
      return service.applicants.includes('officer') && nextRoundWith(snap, unit, service.code, on) !== undefined
  }
}

export function servicesOffered (snap: Snapshot, unit: string, channel: Channel, on: string): Service[] {
  return snap.document.services.filter((s) => offeredThrough(snap, s, unit, channel, on))
}

// The soonest round reaching the unit on or after `on` that brings the service.
export function nextRoundWith (snap: Snapshot, unit: string, service: string, on: string): MobileRound | undefined {
  return snap.roundsReaching(unit, on).find((r) => r.services.includes(service))
}

// Today's date in Mongolia (UTC+8, no daylight saving), which is the day a
// mobile round is on; callers with a clock of their own pass theirs.
export function mongoliaToday (now: number = Date.now()): string {
  return new Date(now + 8 * 3600_000).toISOString().slice(0, 10)
}
