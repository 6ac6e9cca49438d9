import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { authApi } from '@/api/auth'
import type { TokenPair } from '@/api/types'
import { detectLocale, i18n } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useConsentStore } from '@/stores/consent'
import { useLocaleStore } from '@/stores/locale'

const user = { id: 7, email: 'li@example.org', display_name: 'Li', language: 'zh-CN', role: 'user' as const, is_active: true, totp_enabled: false, created_at: '', last_login_at: null }
const pair: TokenPair = { access_token: 'a', refresh_token: 'r', token_type: 'bearer', expires_in: 900, user }

beforeEach(() => {
  localStorage.clear()
  setActivePinia(createPinia())
  vi.restoreAllMocks()
})

describe('locale', () => {
  it('follows the browser languages, else English', () => {
    expect(detectLocale(['zh-TW', 'en'])).toBe('zh-CN')
    expect(detectLocale(['fr-FR', 'en-GB'])).toBe('en')
    expect(detectLocale(['de'])).toBe('en')
  })

  it('remembers the choice only with consent', () => {
    const locale = useLocaleStore()
    locale.set('zh-CN')
    expect(i18n.global.locale.value).toBe('zh-CN')
    expect(localStorage.getItem('oak.locale')).toBeNull()
    useConsentStore().choose('all')
    locale.set('en')
    expect(localStorage.getItem('oak.locale')).toBe('en')
    useConsentStore().choose('necessary')
    expect(localStorage.getItem('oak.locale')).toBeNull()
  })
})

describe('auth', () => {
  it('keeps the tokens, the user and their language after sign-in', () => {
    const auth = useAuthStore()
    auth.signedIn(pair)
    expect(auth.isAuthenticated).toBe(true)
    expect(auth.isAdmin).toBe(false)
    expect(JSON.parse(localStorage.getItem('oak.session') ?? '{}')).toEqual({ access: 'a', refresh: 'r' })
    expect(useLocaleStore().current).toBe('zh-CN')
  })

  it('restores the session from stored tokens, and forgets unusable ones', async () => {
    localStorage.setItem('oak.session', JSON.stringify({ access: 'a', refresh: 'r' }))
    vi.spyOn(authApi, 'me').mockResolvedValue(user)
    const auth = useAuthStore()
    await auth.restore()
    expect(auth.user?.email).toBe('li@example.org')

    setActivePinia(createPinia())
    vi.spyOn(authApi, 'me').mockRejectedValue(new Error('401'))
    const again = useAuthStore()
    await again.restore()
    expect(again.isAuthenticated).toBe(false)
    expect(localStorage.getItem('oak.session')).toBeNull()
  })

  it('signs out even when the server already forgot the session', async () => {
    vi.spyOn(authApi, 'logout').mockRejectedValue(new Error('gone'))
    const auth = useAuthStore()
    auth.signedIn(pair)
    await auth.logout()
    expect(auth.user).toBeNull()
    expect(localStorage.getItem('oak.session')).toBeNull()
  })
})
