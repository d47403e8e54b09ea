import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { createLimitedErrorLog } from '../errors/limited-log.ts'

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis
    redisKeyPrefix: string
  }
}

export interface RedisPluginOptions {
  // A connected `client` connection (see src/redis/connection.ts).
  redis: Redis
  keyPrefix: string
}

async function redisPlugin (app: FastifyInstance, { redis, keyPrefix }: RedisPluginOptions): Promise<void> {
  app.decorate('redis', redis)
  app.decorate('redisKeyPrefix', keyPrefix)
  // Without a listener ioredis reports every reconnect attempt as unhandled.
  redis.on('error', createLimitedErrorLog(app.log, 'redis connection error'))
  app.addHook('onClose', async () => {
    await redis.quit().catch(() => redis.disconnect())
  })
}

export default fp(redisPlugin, { name: 'redis', fastify: '5.x' })
