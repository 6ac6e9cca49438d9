import { describe, expect, it } from 'vitest'
import { i18n } from '@/i18n'
import en from '@/i18n/locales/en.json'
import zhCN from '@/i18n/locales/zh-CN.json'

type Tree = { [key: string]: string | Tree }

function messages(tree: Tree, prefix = ''): [string, string][] {
  return Object.entries(tree).flatMap(([key, value]): [string, string][] =>
    typeof value === 'object' ? messages(value, `${prefix}${key}.`) : [[`${prefix}${key}`, value]],
  )
}

function branches(message: string): string[] {
  return message.split('|').map((branch) => branch.trim())
}

function placeholders(message: string): string[] {
  return [...new Set([...message.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? ''))].sort()
}

/** What is wrong with one key's pair of messages under the locale rules (empty: nothing). */
function pluralProblems(key: string, english: string, chinese: string): string[] {
  const enForms = branches(english)
  const zhForms = branches(chinese)
  const problems: string[] = []
  // Chinese has one plural form: a plural en message maps to a zh message without branches.
  if (zhForms.length > 1) problems.push(`${key}: zh-CN has plural branches`)
  if (enForms.length > 3) problems.push(`${key}: en has more than three branches`)
  if (enForms.some((form) => form === '')) problems.push(`${key}: en has an empty branch`)
  // Every value the Chinese text shows is given to the English one too, in its last branch
  // (the plural form, the one with every value). A zero branch may leave out {n}.
  const given = new Set(placeholders(enForms[enForms.length - 1] ?? ''))
  for (const name of placeholders(chinese)) {
    if (!given.has(name)) problems.push(`${key}: zh-CN uses {${name}} that en does not`)
  }
  return problems
}

describe('locales', () => {
  const enMessages = new Map(messages(en as Tree))
  const zhMessages = new Map(messages(zhCN as Tree))

  it('en and zh-CN hold the same keys', () => {
    expect([...zhMessages.keys()].sort()).toEqual([...enMessages.keys()].sort())
  })

  it('plural branches only in en, and the same values in both', () => {
    const problems = [...enMessages].flatMap(([key, english]) => pluralProblems(key, english, zhMessages.get(key) ?? ''))
    expect(problems).toEqual([])
  })

  it('the rule accepts an en plural against one zh form and refuses the rest', () => {
    expect(pluralProblems('k', '{n} list | {n} lists', '{n} 个列表')).toEqual([])
    expect(pluralProblems('k', 'none | {n} list | {n} lists', '{n} 个')).toEqual([])
    expect(pluralProblems('k', '{n} list', '{n} 个 | {n} 个')).toEqual(['k: zh-CN has plural branches'])
    expect(pluralProblems('k', '{n} list | {n} lists', '{m} 个列表')).toEqual(['k: zh-CN uses {m} that en does not'])
    expect(pluralProblems('k', 'a | | c', 'x')).toEqual(['k: en has an empty branch'])
  })

  it('counts choose the English form; Chinese has one', () => {
    const { t, locale } = i18n.global
    locale.value = 'en'
    expect(t('domains.lists', 1)).toBe('1 list')
    expect(t('domains.lists', 3)).toBe('3 lists')
    expect(t('domains.lists', 0)).toBe('0 lists')
    expect(t('profile.revoked', 0)).toBe('No sessions were signed out')
    expect(t('profile.revoked', 1)).toBe('1 session was signed out')
    expect(t('profile.revoked', 2)).toBe('2 sessions were signed out')
    expect(t('archive.resultCount', { n: '1,200', q: 'oak' }, 1200)).toBe('1,200 results for “oak”')
    expect(t('archive.resultCount', { n: '1', q: 'oak' }, 1)).toBe('1 result for “oak”')
    locale.value = 'zh-CN'
    expect(t('domains.lists', 1)).toBe('1 个列表')
    expect(t('domains.lists', 5)).toBe('5 个列表')
    expect(t('profile.revoked', 0)).toBe('0 个会话已退出')
    locale.value = 'en'
  })
})
