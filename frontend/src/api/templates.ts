// Email templates: site-wide (administrators) or one list's (owners), with a rendered preview.
import { client } from './client'
import type { Language, Rendered, TemplateInfo, TemplateSource } from './types'

/** null: the site-wide templates; a number: that list's. */
export type TemplateScope = number | null

const base = (scope: TemplateScope) => (scope === null ? '/templates' : `/lists/${scope}/templates`)

export const templatesApi = {
  list: async (scope: TemplateScope) => (await client.get<TemplateInfo[]>(base(scope))).data,
  get: async (scope: TemplateScope, name: string, language: Language) =>
    (await client.get<TemplateSource>(`${base(scope)}/${name}/${language}`)).data,
  save: async (scope: TemplateScope, name: string, language: Language, body: { subject: string; body: string }) =>
    (await client.put<TemplateSource>(`${base(scope)}/${name}/${language}`, body)).data,
  reset: async (scope: TemplateScope, name: string, language: Language) => {
    await client.delete(`${base(scope)}/${name}/${language}`)
  },
  preview: async (body: { name: string; language: Language; subject?: string; body?: string; list_id?: number }) =>
    (await client.post<Rendered>('/templates/preview', body)).data,
}
