// Sender policies: whitelist and blacklist rules, read in order. A list's own rules (owners)
// come first; the site-wide rules (administrators, listId null) after them.
import { client } from './client'
import type { Policy, PolicyInput } from './types'

/** The collection's path: one list's rules, or the site-wide ones when listId is null. */
const base = (listId: number | null) => (listId === null ? '/policies' : `/lists/${listId}/policies`)

export const policiesApi = {
  list: async (listId: number | null) => (await client.get<Policy[]>(base(listId))).data,
  create: async (listId: number | null, body: PolicyInput) =>
    (await client.post<Policy>(base(listId), body)).data,
  update: async (id: number, body: Partial<PolicyInput>) =>
    (await client.patch<Policy>(`/policies/${id}`, body)).data,
  remove: async (id: number) => {
    await client.delete(`/policies/${id}`)
  },
  reorder: async (listId: number | null, ids: number[]) =>
    (await client.put<Policy[]>(`${base(listId)}/order`, { ids })).data,
}
