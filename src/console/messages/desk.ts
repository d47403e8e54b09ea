import type { Messages } from '../messages.ts'

export const DESK_MESSAGES = {
} as const satisfies Messages
