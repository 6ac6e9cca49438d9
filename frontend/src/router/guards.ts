// Navigation rules: first-run setup before anything, sign-in for the app.
import type { Router } from 'vue-router'
import { authApi } from '@/api/auth'
import { i18n } from '@/i18n'
import { useAuthStore } from '@/stores/auth'

let setupRequired: boolean | null = null

export function setupDone(): void {
  setupRequired = false
}

export function installGuards(router: Router): void {
  router.beforeEach(async (to) => {
    const auth = useAuthStore()
    await auth.restore()
    if (setupRequired === null) {
      try {
        setupRequired = await authApi.setupStatus()
      } catch {
        setupRequired = false
      }
    }
    if (setupRequired && to.name !== 'setup') return { name: 'setup' }
    if (!setupRequired && to.name === 'setup') return { name: 'login' }
    if (to.meta.guestOnly && auth.isAuthenticated) return { name: 'dashboard' }
    if (to.meta.public) return true
    if (!auth.isAuthenticated) {
      return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } }
    }
    // Admin-only pages (meta.admin) open for anyone signed in; the layout shows "no access".
    return true
  })

  router.afterEach((to) => {
    const key = to.meta.title
    const { t } = i18n.global
    document.title = key ? `${t(key)} · Oak Maillist` : 'Oak Maillist'
  })
}
