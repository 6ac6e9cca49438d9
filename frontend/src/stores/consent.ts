// GDPR-style consent: until the visitor chooses, only strictly necessary storage is written
// (the sign-in session once they sign in). Preferences (language) persist only with "all".
import { defineStore } from 'pinia'
import { ref } from 'vue'

export type ConsentChoice = 'all' | 'necessary'
const KEY = 'oak.consent'

function readChoice(): ConsentChoice | null {
  try {
    const value = localStorage.getItem(KEY)
    return value === 'all' || value === 'necessary' ? value : null
  } catch {
    return null
  }
}

export const useConsentStore = defineStore('consent', () => {
  const choice = ref<ConsentChoice | null>(readChoice())
  const panelOpen = ref(false)

  function choose(value: ConsentChoice): void {
    choice.value = value
    panelOpen.value = false
    localStorage.setItem(KEY, value)
    if (value !== 'all') forgetPreferences()
  }

  function allows(kind: 'necessary' | 'preferences'): boolean {
    return kind === 'necessary' || choice.value === 'all'
  }

  /** Store a preference only if the visitor allowed it. */
  function remember(key: string, value: string): void {
    if (allows('preferences')) localStorage.setItem(key, value)
  }

  function forgetPreferences(): void {
    for (const key of PREFERENCE_KEYS) localStorage.removeItem(key)
  }

  return { choice, panelOpen, choose, allows, remember }
})

export const PREFERENCE_KEYS = ['oak.locale']
