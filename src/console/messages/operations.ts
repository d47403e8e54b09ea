import type { Messages } from '../messages.ts'

export const OPERATIONS_MESSAGES = {
} as const satisfies Messages
