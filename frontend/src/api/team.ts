// Who runs a list (owners, moderators), who is invited, and who waits for approval.
import { client } from './client'
import type {
  InvitationPreview,
  InvitationsCreated,
  Language,
  ListInvitation,
  ListRole,
  ListRoleName,
  Page,
  Subscriber,
  SubscriptionOutcome,
  SubscriptionRequest,
} from './types'
import type { PageParams } from './archive'

export const teamApi = {
  roles: async (listId: number) => (await client.get<ListRole[]>(`/lists/${listId}/roles`)).data,
  grant: async (listId: number, email: string, role: ListRoleName) =>
    (await client.post<ListRole>(`/lists/${listId}/roles`, { email, role })).data,
  revoke: async (listId: number, role: ListRoleName, userId: number) => {
    await client.delete(`/lists/${listId}/roles/${role}/${userId}`)
  },
  invitations: async (listId: number, params: PageParams = {}) =>
    (await client.get<Page<ListInvitation>>(`/lists/${listId}/invitations`, { params })).data,
  invite: async (
    listId: number,
    body: { invitees: { email: string; name?: string }[]; note?: string; language?: Language },
  ) => (await client.post<InvitationsCreated>(`/lists/${listId}/invitations`, body)).data,
  revokeInvitation: async (listId: number, id: number) => {
    await client.delete(`/lists/${listId}/invitations/${id}`)
  },
  requests: async (listId: number, params: PageParams = {}) =>
    (await client.get<Page<SubscriptionRequest>>(`/lists/${listId}/subscription-requests`, { params })).data,
  approve: async (listId: number, id: number) =>
    (await client.post<Subscriber>(`/lists/${listId}/subscription-requests/${id}/approve`)).data,
  reject: async (listId: number, id: number, reason: string) => {
    await client.post(`/lists/${listId}/subscription-requests/${id}/reject`, { reason })
  },
}

/** The invitee's page (no sign-in). */
export const invitationApi = {
  read: async (token: string) =>
    (await client.get<InvitationPreview>('/subscriptions/invitation', { params: { token } })).data,
  accept: async (token: string) =>
    (await client.post<SubscriptionOutcome>('/subscriptions/invitation/accept', { token })).data,
}
