// The public pages a subscriber reaches from mail: no sign-in needed.
import { client } from './client'
import type { DigestFormat, DigestMode, Language, Preferences, SubscriptionOutcome } from './types'

export const subscriptionsApi = {
  subscribe: async (
    listId: number,
    body: { email: string; name: string; language: Language; digest_mode: DigestMode },
  ) => (await client.post<{ status: string; message: string }>(`/lists/${listId}/subscribe`, body)).data,
  confirm: async (token: string) =>
    (await client.post<SubscriptionOutcome>('/subscriptions/confirm', { token })).data,
  unsubscribe: async (token: string) =>
    (await client.post<SubscriptionOutcome>('/subscriptions/unsubscribe', { token })).data,
  preferences: async (token: string) =>
    (await client.get<Preferences>('/subscriptions/preferences', { params: { token } })).data,
  setPreferences: async (token: string, digest_mode: DigestMode, digest_format: DigestFormat) =>
    (await client.put<Preferences>('/subscriptions/preferences', { token, digest_mode, digest_format })).data,
}
