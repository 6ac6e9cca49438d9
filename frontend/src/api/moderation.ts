// The moderation queue across lists and per list.
import { client } from './client'
import type { BulkItem, Decision, HeldDetail, HeldMessage, Page } from './types'

export interface QueueQuery {
  page?: number
  per_page?: number
  status?: string
  reason?: string
}

export type ModerationAction = 'approve' | 'reject' | 'discard'

export const moderationApi = {
  queue: async (query: QueueQuery = {}, listId?: number) => {
    const url = listId ? `/lists/${listId}/moderation` : '/moderation'
    const params = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== '' && v != null))
    return (await client.get<Page<HeldMessage>>(url, { params })).data
  },
  get: async (id: number) => (await client.get<HeldDetail>(`/moderation/${id}`)).data,
  decide: async (
    id: number,
    action: ModerationAction,
    body: { note?: string; whitelist?: boolean; blacklist?: boolean; notify?: boolean } = {},
  ) => (await client.post<Decision>(`/moderation/${id}/${action}`, body)).data,
  /** Tell the AI step its verdict on a held post was wrong (optionally whitelisting the sender). */
  feedback: async (
    id: number,
    body: { kind: 'false_positive' | 'false_negative'; note?: string; whitelist?: boolean },
  ) =>
    (
      await client.post<{ id: number; kind: string; sent_to_provider: boolean; created_at: string }>(
        `/moderation/${id}/feedback`,
        body,
      )
    ).data,
  bulk: async (ids: number[], action: ModerationAction, note = '') =>
    (await client.post<BulkItem[]>('/moderation/bulk', { ids, action, note })).data,
}
