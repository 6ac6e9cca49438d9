// User administration and runtime settings (administrators).
import { client } from './client'
import type { Language, ListDefaults, Page, SystemRole, User } from './types'

export interface SiteSettings {
  registration_mode: 'open' | 'invite' | 'closed'
  site_name: string
  default_language: Language
  list_defaults: ListDefaults
}

export const usersApi = {
  list: async (params: { page?: number; per_page?: number; q?: string; role?: string }) =>
    (
      await client.get<Page<User>>('/users', {
        params: Object.fromEntries(Object.entries(params).filter(([, v]) => v !== '' && v != null)),
      })
    ).data,
  create: async (body: {
    email: string
    password: string
    display_name: string
    language: Language
    role: SystemRole
  }) => (await client.post<User>('/users', body)).data,
  update: async (
    id: number,
    body: { display_name?: string; language?: Language; role?: SystemRole; is_active?: boolean },
  ) => (await client.patch<User>(`/users/${id}`, body)).data,
  remove: async (id: number) => {
    await client.delete(`/users/${id}`)
  },
  invite: async (email: string, role: SystemRole) =>
    (await client.post<{ invite_url: string }>('/users/invitations', { email, role })).data,
  settings: async () => (await client.get<SiteSettings>('/settings')).data,
  updateSettings: async (body: Partial<SiteSettings>) =>
    (await client.patch<SiteSettings>('/settings', body)).data,
}
