import type { Messages } from '../messages.ts'

export const STATS_MESSAGES = {
} as const satisfies Messages
