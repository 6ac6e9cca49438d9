// vue-i18n in composition mode; en and zh-CN hold the same keys (a test compares them).
// Counts use vue-i18n plurals: an en message has branches ("{n} list | {n} lists", or three
// with a zero form first), chosen by t(key, count) or t(key, named, count); Chinese has one
// form, so its messages have none and its rule always picks the first.
import { createI18n } from 'vue-i18n'
import en from './locales/en.json'
import zhCN from './locales/zh-CN.json'

export type Locale = 'en' | 'zh-CN'
export const LOCALES: Locale[] = ['en', 'zh-CN']
export type MessageSchema = typeof en

export const i18n = createI18n<[MessageSchema], Locale, false>({
  legacy: false,
  locale: 'en',
  fallbackLocale: 'en',
  messages: { en, 'zh-CN': zhCN },
  pluralRules: { 'zh-CN': () => 0 },
  missingWarn: false,
  fallbackWarn: false,
})

/** The first supported language the browser asks for, else English. */
export function detectLocale(languages: readonly string[] = navigator.languages ?? []): Locale {
  for (const tag of languages) {
    const lower = tag.toLowerCase()
    if (lower.startsWith('zh')) return 'zh-CN'
    if (lower.startsWith('en')) return 'en'
  }
  return 'en'
}

export function isLocale(value: unknown): value is Locale {
  return value === 'en' || value === 'zh-CN'
}
