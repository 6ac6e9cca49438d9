import { describe, expect, it } from 'vitest'
import en from '@/i18n/locales/en.json'
import zhCN from '@/i18n/locales/zh-CN.json'

function keys(tree: object, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    value && typeof value === 'object' ? keys(value as object, `${prefix}${key}.`) : [`${prefix}${key}`],
  )
}

describe('locales', () => {
  it('en and zh-CN hold the same keys', () => {
    expect(keys(zhCN).sort()).toEqual(keys(en).sort())
  })
})
