// Sender policies: a list's whitelist and blacklist rules, read in order.
import { client } from './client'
import type { Policy, PolicyInput } from './types'

export const policiesApi = {
  list: async (listId: number) => (await client.get<Policy[]>(`/lists/${listId}/policies`)).data,
  create: async (listId: number, body: PolicyInput) =>
    (await client.post<Policy>(`/lists/${listId}/policies`, body)).data,
  update: async (id: number, body: Partial<PolicyInput>) =>
    (await client.patch<Policy>(`/policies/${id}`, body)).data,
  remove: async (id: number) => {
    await client.delete(`/policies/${id}`)
  },
  reorder: async (listId: number, ids: number[]) =>
    (await client.put<Policy[]>(`/lists/${listId}/policies/order`, { ids })).data,
}
