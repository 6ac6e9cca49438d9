import type { AxiosAdapter, InternalAxiosRequestConfig } from 'axios'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { aiModerationApi } from '@/api/aiModeration'
import { client } from '@/api/client'
import { policiesApi } from '@/api/policies'

const seen: { method: string; url: string; params: unknown; data: unknown }[] = []
const original = client.defaults.adapter

/** Records each request and answers 200 with an empty body. */
const recorder: AxiosAdapter = async (config: InternalAxiosRequestConfig) => {
  seen.push({ method: config.method ?? '', url: config.url ?? '', params: config.params, data: config.data })
  return { config, headers: {}, status: 200, statusText: '', request: {}, data: [] }
}

beforeEach(() => {
  seen.length = 0
  client.defaults.adapter = recorder
})
afterEach(() => {
  client.defaults.adapter = original
})

describe('sender policies', () => {
  it("address a list's rules or the site-wide ones", async () => {
    await policiesApi.list(3)
    await policiesApi.list(null)
    await policiesApi.create(null, { kind: 'blacklist', pattern_type: 'exact', pattern: 'a@b.example', include_subdomains: false, action: 'discard', note: '' })
    await policiesApi.reorder(null, [2, 1])
    await policiesApi.reorder(3, [1])
    expect(seen.map((request) => `${request.method} ${request.url}`)).toEqual([
      'get /lists/3/policies',
      'get /policies',
      'post /policies',
      'put /policies/order',
      'put /lists/3/policies/order',
    ])
  })
})

describe('AI moderation', () => {
  it('leaves an unset list filter out of the statistics query', async () => {
    await aiModerationApi.stats({ days: 7, list_id: null })
    await aiModerationApi.stats({ days: 30, list_id: 4 })
    expect(seen.map((request) => [request.url, request.params])).toEqual([
      ['/ai-moderation/stats', { days: 7 }],
      ['/ai-moderation/stats', { days: 30, list_id: 4 }],
    ])
  })

  it('sends secrets only when given', async () => {
    await aiModerationApi.updateSettings({ provider: 'openai', api_key: 'k' })
    expect(seen[0]?.url).toBe('/settings/ai-moderation')
    expect(JSON.parse(String(seen[0]?.data))).toEqual({ provider: 'openai', api_key: 'k' })
  })
})
