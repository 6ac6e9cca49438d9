import axios, { AxiosError, type AxiosAdapter, type InternalAxiosRequestConfig } from 'axios'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, createClient, useTokenKeeper, type TokenKeeper } from '@/api/client'
import type { TokenPair } from '@/api/types'

function pair(access: string, refresh: string): TokenPair {
  return {
    access_token: access,
    refresh_token: refresh,
    token_type: 'bearer',
    expires_in: 900,
    user: { id: 1, email: 'a@example.org', display_name: 'A', language: 'en', role: 'admin', is_active: true, totp_enabled: false, created_at: '', last_login_at: null },
  }
}

function keeper(access: string, refresh: string) {
  const state = { access, refresh, expired: 0 }
  const value: TokenKeeper = {
    accessToken: () => state.access,
    refreshToken: () => state.refresh,
    update: (next) => {
      state.access = next.access_token
      state.refresh = next.refresh_token
    },
    expired: () => {
      state.expired += 1
    },
  }
  return { state, value }
}

/** An adapter that answers 401 unless the request carries `Bearer good`. */
function serverAccepting(token: string, seen: string[]): AxiosAdapter {
  return async (config: InternalAxiosRequestConfig) => {
    const auth = String(config.headers.get('Authorization') ?? '')
    seen.push(auth)
    const response = { config, headers: {}, statusText: '', request: {} }
    if (auth === `Bearer ${token}`) return { ...response, status: 200, data: { ok: true } }
    const failed = { ...response, status: 401, data: { error: { code: 'not_authenticated', message: 'Sign in', details: {} } } }
    throw new AxiosError('401', 'ERR_BAD_REQUEST', config, {}, failed)
  }
}

afterEach(() => {
  vi.restoreAllMocks()
  useTokenKeeper(null)
})

describe('the API client', () => {
  it('refreshes once on 401 and retries with the new token', async () => {
    const tokens = keeper('stale', 'r1')
    useTokenKeeper(tokens.value)
    const refresh = vi.spyOn(axios, 'post').mockResolvedValue({ data: pair('good', 'r2') })
    const seen: string[] = []
    const client = createClient()
    client.defaults.adapter = serverAccepting('good', seen)

    const [a, b] = await Promise.all([client.get('/lists'), client.get('/users')])

    expect(a.data).toEqual({ ok: true })
    expect(b.data).toEqual({ ok: true })
    expect(refresh).toHaveBeenCalledTimes(1)
    expect(refresh.mock.calls[0]?.[1]).toEqual({ refresh_token: 'r1' })
    expect(tokens.state).toMatchObject({ access: 'good', refresh: 'r2', expired: 0 })
    expect(seen).toEqual(['Bearer stale', 'Bearer stale', 'Bearer good', 'Bearer good'])
  })

  it('ends the session when the refresh is refused', async () => {
    const tokens = keeper('stale', 'r1')
    useTokenKeeper(tokens.value)
    vi.spyOn(axios, 'post').mockRejectedValue(new Error('refused'))
    const client = createClient()
    client.defaults.adapter = serverAccepting('good', [])

    const error = await client.get('/lists').catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ code: 'not_authenticated', status: 401 })
    expect(tokens.state.expired).toBe(1)
  })

  it('never refreshes for the sign-in calls themselves', async () => {
    const tokens = keeper('stale', 'r1')
    useTokenKeeper(tokens.value)
    const refresh = vi.spyOn(axios, 'post')
    const client = createClient()
    client.defaults.adapter = serverAccepting('good', [])

    await expect(client.post('/auth/login', {})).rejects.toMatchObject({ code: 'not_authenticated' })
    expect(refresh).not.toHaveBeenCalled()
  })
})
