// The signed-in user and their tokens. The tokens are strictly necessary storage (they keep the
// session across reloads), so they are kept whatever the cookie choice.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { authApi } from '@/api/auth'
import { useTokenKeeper } from '@/api/client'
import type { TokenPair, User } from '@/api/types'
import { isLocale } from '@/i18n'
import { useLocaleStore } from './locale'

const KEY = 'oak.session'

interface StoredTokens {
  access: string
  refresh: string
}

function readTokens(): StoredTokens | null {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(KEY) ?? 'null')
    if (parsed && typeof parsed === 'object' && 'access' in parsed && 'refresh' in parsed) {
      return parsed as StoredTokens
    }
  } catch {
    /* unreadable: signed out */
  }
  return null
}

export const useAuthStore = defineStore('auth', () => {
  const tokens = ref<StoredTokens | null>(readTokens())
  const user = ref<User | null>(null)
  const ready = ref(false)
  /** Set when the session ended on its own (refresh refused), so the login page can say so. */
  const expiredNotice = ref(false)

  const isAuthenticated = computed(() => user.value !== null && tokens.value !== null)
  const isAdmin = computed(() => user.value?.role === 'admin')

  function saveTokens(next: StoredTokens | null): void {
    tokens.value = next
    if (next) localStorage.setItem(KEY, JSON.stringify(next))
    else localStorage.removeItem(KEY)
  }

  function applyUserLanguage(next: User): void {
    if (isLocale(next.language)) useLocaleStore().apply(next.language)
  }

  /** Keep the tokens and user of a completed sign-in; the user's language takes over. */
  function signedIn(pair: TokenPair): void {
    saveTokens({ access: pair.access_token, refresh: pair.refresh_token })
    user.value = pair.user
    expiredNotice.value = false
    applyUserLanguage(pair.user)
  }

  function clear(): void {
    saveTokens(null)
    user.value = null
  }

  useTokenKeeper({
    accessToken: () => tokens.value?.access ?? null,
    refreshToken: () => tokens.value?.refresh ?? null,
    update: (pair) => {
      saveTokens({ access: pair.access_token, refresh: pair.refresh_token })
      user.value = pair.user
    },
    expired: () => {
      if (user.value) expiredNotice.value = true
      clear()
    },
  })

  /** On start: restore the session from stored tokens (refreshing them if needed). */
  async function restore(): Promise<void> {
    if (ready.value) return
    if (tokens.value) {
      try {
        const me = await authApi.me()
        user.value = me
        applyUserLanguage(me)
      } catch {
        clear()
      }
    }
    ready.value = true
  }

  async function logout(): Promise<void> {
    try {
      if (tokens.value) await authApi.logout()
    } catch {
      /* the session may already be gone */
    }
    clear()
  }

  function setUser(next: User): void {
    user.value = next
  }

  return {
    tokens,
    user,
    ready,
    expiredNotice,
    isAuthenticated,
    isAdmin,
    signedIn,
    restore,
    logout,
    clear,
    setUser,
  }
})
