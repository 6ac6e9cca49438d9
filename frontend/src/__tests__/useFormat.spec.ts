/// <reference types="node" />
import { createPinia, setActivePinia } from 'pinia'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { useFormat } from '@/composables/useFormat'
import { useLocaleStore } from '@/stores/locale'

describe('useFormat', () => {
  beforeAll(() => {
    process.env.TZ = 'America/Los_Angeles' // where UTC midnight is the evening before
  })

  beforeEach(() => {
    setActivePinia(createPinia())
    useLocaleStore().set('en')
  })

  it('shows a calendar day from the API as that day, whatever the time zone', () => {
    const { formatDate } = useFormat()
    expect(formatDate('2026-11-24')).toBe('Nov 24, 2026')
    expect(formatDate('2026-01-01')).toBe('Jan 1, 2026')
    expect(formatDate(null)).toBe('—')
  })

  it('follows the interface language', () => {
    useLocaleStore().set('zh-CN')
    expect(useFormat().formatDate('2026-11-24')).toBe('2026年11月24日')
  })
})
