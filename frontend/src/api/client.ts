// The one HTTP client: base URL, bearer token, Accept-Language, one shared refresh on 401,
// and every failure turned into an ApiError carrying the server's stable error code.
import axios, { AxiosError, type AxiosInstance, type InternalAxiosRequestConfig } from 'axios'
import type { ErrorBody, TokenPair } from './types'

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** What the client needs from whoever keeps the tokens (the auth store). */
export interface TokenKeeper {
  accessToken(): string | null
  refreshToken(): string | null
  /** Store a fresh pair (after /auth/refresh). */
  update(pair: TokenPair): void
  /** The session is over: refresh failed or was refused. */
  expired(): void
}

let keeper: TokenKeeper | null = null
let language = 'en'

export function useTokenKeeper(next: TokenKeeper | null): void {
  keeper = next
}

export function setRequestLanguage(value: string): void {
  language = value
}

// Calls that must never trigger a refresh: they are how one signs in.
const NO_REFRESH = ['/auth/login', '/auth/refresh', '/auth/mfa/totp/verify', '/auth/passkey/', '/setup']

interface RetriableConfig extends InternalAxiosRequestConfig {
  _retried?: boolean
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  if (axios.isAxiosError(error)) {
    const status = error.response?.status ?? 0
    const body = error.response?.data as Partial<ErrorBody> | undefined
    if (body && typeof body === 'object' && body.error && typeof body.error.code === 'string') {
      return new ApiError(body.error.code, body.error.message, status, body.error.details ?? {})
    }
    if (status === 0) return new ApiError('network_error', error.message, 0)
    return new ApiError(`http_${status}`, error.message, status)
  }
  return new ApiError('unknown_error', String(error), 0)
}

export function createClient(): AxiosInstance {
  const instance = axios.create({ baseURL: '/api/v1', timeout: 60_000 })
  let refreshing: Promise<string | null> | null = null

  async function refresh(): Promise<string | null> {
    const token = keeper?.refreshToken()
    if (!token) return null
    try {
      const { data } = await axios.post<TokenPair>(
        '/api/v1/auth/refresh',
        { refresh_token: token },
        { headers: { 'Accept-Language': language } },
      )
      keeper?.update(data)
      return data.access_token
    } catch {
      return null
    }
  }

  instance.interceptors.request.use((config) => {
    const token = keeper?.accessToken()
    if (token && !config.headers.has('Authorization')) {
      config.headers.set('Authorization', `Bearer ${token}`)
    }
    config.headers.set('Accept-Language', language)
    return config
  })

  instance.interceptors.response.use(undefined, async (error: unknown) => {
    if (!(error instanceof AxiosError) || !error.config) throw toApiError(error)
    const config = error.config as RetriableConfig
    const url = config.url ?? ''
    const canRefresh =
      error.response?.status === 401 &&
      !config._retried &&
      !NO_REFRESH.some((prefix) => url.startsWith(prefix)) &&
      keeper?.refreshToken()
    if (!canRefresh) throw toApiError(error)
    config._retried = true
    // Concurrent 401s share one refresh: the refresh token is single use.
    refreshing ??= refresh().finally(() => {
      refreshing = null
    })
    const access = await refreshing
    if (!access) {
      keeper?.expired()
      throw toApiError(error)
    }
    config.headers.set('Authorization', `Bearer ${access}`)
    try {
      return await instance.request(config)
    } catch (retryError) {
      throw toApiError(retryError)
    }
  })
  return instance
}

export const client = createClient()

/** Save a response body (CSV export, raw message) as a file. */
export function saveBlob(data: Blob, filename: string): void {
  const url = URL.createObjectURL(data)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

export function filenameFrom(disposition: string | undefined, fallback: string): string {
  const match = /filename="?([^";]+)"?/.exec(disposition ?? '')
  return match?.[1] ?? fallback
}
