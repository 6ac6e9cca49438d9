// Domains, their relay overrides and DKIM keys (administrators).
import { client } from './client'
import type { Domain } from './types'

export interface DomainInput {
  name?: string
  description?: string
  smtp_host?: string
  smtp_port?: number | null
  smtp_security?: string
  smtp_username?: string
  smtp_password?: string
  dkim_selector?: string
  dkim_enabled?: boolean
  dkim_ed25519_enabled?: boolean
  dkim_ed25519_selector?: string
  is_active?: boolean
}

export const domainsApi = {
  list: async () => (await client.get<Domain[]>('/domains')).data,
  create: async (body: DomainInput) => (await client.post<Domain>('/domains', body)).data,
  update: async (id: number, body: DomainInput) =>
    (await client.patch<Domain>(`/domains/${id}`, body)).data,
  rotateDkim: async (id: number, body: { algorithm?: string; selector?: string; private_key_pem?: string }) =>
    (await client.post<Domain>(`/domains/${id}/dkim`, body)).data,
  /** A new (or imported) Ed25519 key signing beside the RSA one; turns that signature on. */
  replaceEd25519: async (id: number, body: { selector?: string; private_key_pem?: string } = {}) =>
    (await client.post<Domain>(`/domains/${id}/dkim/ed25519`, body)).data,
  remove: async (id: number) => {
    await client.delete(`/domains/${id}`)
  },
}
