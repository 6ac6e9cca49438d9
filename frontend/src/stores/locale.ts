// The interface language: the user's saved preference, else this browser's choice (kept only
// with consent), else the browser's languages, else English. Switches vue-i18n, Element Plus,
// <html lang> and the API's Accept-Language together.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import en from 'element-plus/es/locale/lang/en.mjs'
import zhCn from 'element-plus/es/locale/lang/zh-cn.mjs'
import { setRequestLanguage } from '@/api/client'
import { detectLocale, i18n, isLocale, type Locale } from '@/i18n'
import { useConsentStore } from './consent'

const KEY = 'oak.locale'

function storedLocale(): Locale | null {
  try {
    const value = localStorage.getItem(KEY)
    return isLocale(value) ? value : null
  } catch {
    return null
  }
}

export const useLocaleStore = defineStore('locale', () => {
  const current = ref<Locale>(storedLocale() ?? detectLocale())
  const elementLocale = computed(() => (current.value === 'zh-CN' ? zhCn : en))

  function apply(value: Locale): void {
    current.value = value
    i18n.global.locale.value = value
    document.documentElement.lang = value
    setRequestLanguage(value)
  }

  /** Switch now; remember it in this browser if the visitor allowed preferences. */
  function set(value: Locale): void {
    apply(value)
    useConsentStore().remember(KEY, value)
  }

  apply(current.value)
  return { current, elementLocale, set, apply }
})
