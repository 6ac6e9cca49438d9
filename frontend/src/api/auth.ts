// Sign-in, first run, MFA, passkeys, sessions and the current user.
import { client } from './client'
import type { Ceremony, Language, MfaRequired, SystemInfo, TokenPair, User } from './types'

export interface SessionInfo {
  id: number
  user_agent: string
  ip_address: string
  auth_method: string
  created_at: string
  last_used_at: string
  expires_at: string
  current: boolean
}

export interface Passkey {
  id: number
  name: string
  created_at: string
  last_used_at: string | null
  backed_up: boolean
  transports: string[]
}

export interface TotpSetup {
  secret: string
  otpauth_uri: string
  qr_svg: string
}

export interface MfaStatus {
  totp_enabled: boolean
  backup_codes_remaining: number
}

export const authApi = {
  systemInfo: async () => (await client.get<SystemInfo>('/system/info')).data,
  setupStatus: async () =>
    (await client.get<{ setup_required: boolean }>('/setup/status')).data.setup_required,
  setup: async (body: { email: string; password: string; display_name: string; language: Language }) =>
    (await client.post<TokenPair>('/setup', body)).data,
  register: async (body: {
    email: string
    password: string
    display_name: string
    language: Language
    invitation_token?: string
  }) => (await client.post<TokenPair>('/auth/register', body)).data,
  login: async (email: string, password: string) =>
    (await client.post<TokenPair | MfaRequired>('/auth/login', { email, password })).data,
  verifyMfa: async (mfa_token: string, code: string) =>
    (await client.post<TokenPair>('/auth/mfa/totp/verify', { mfa_token, code })).data,
  passkeyOptions: async (mfa_token?: string) =>
    (await client.post<Ceremony>('/auth/passkey/auth-options', mfa_token ? { mfa_token } : {})).data,
  passkeyLogin: async (challenge_id: string, credential: unknown, mfa_token?: string) =>
    (await client.post<TokenPair>('/auth/passkey/login', { challenge_id, credential, mfa_token })).data,
  logout: async () => {
    await client.post('/auth/logout')
  },
  me: async () => (await client.get<User>('/auth/me')).data,
  updateProfile: async (body: { display_name?: string; language?: Language }) =>
    (await client.patch<User>('/users/me', body)).data,
  changePassword: async (current_password: string, new_password: string) =>
    (
      await client.post<{ other_sessions_revoked: number }>('/users/me/password', {
        current_password,
        new_password,
      })
    ).data,
  sessions: async () => (await client.get<SessionInfo[]>('/auth/sessions')).data,
  revokeSession: async (id: number) => {
    await client.delete(`/auth/sessions/${id}`)
  },
  revokeOtherSessions: async () =>
    (await client.post<{ revoked: number }>('/auth/sessions/revoke-others')).data.revoked,
  mfaStatus: async () => (await client.get<MfaStatus>('/auth/mfa/status')).data,
  totpSetup: async () => (await client.post<TotpSetup>('/auth/mfa/totp/setup')).data,
  totpEnable: async (code: string) =>
    (await client.post<{ backup_codes: string[] }>('/auth/mfa/totp/enable', { code })).data.backup_codes,
  totpDisable: async (body: { password?: string; code?: string }) =>
    (await client.post<MfaStatus>('/auth/mfa/totp/disable', body)).data,
  regenerateBackupCodes: async (body: { password?: string; code?: string }) =>
    (await client.post<{ backup_codes: string[] }>('/auth/mfa/backup-codes/regenerate', body)).data
      .backup_codes,
  passkeys: async () => (await client.get<Passkey[]>('/auth/passkeys')).data,
  passkeyRegisterOptions: async () =>
    (await client.post<Ceremony>('/auth/passkey/register-options')).data,
  passkeyRegister: async (challenge_id: string, credential: unknown, name: string) =>
    (await client.post<Passkey>('/auth/passkey/register', { challenge_id, credential, name })).data,
  renamePasskey: async (id: number, name: string) =>
    (await client.patch<Passkey>(`/auth/passkeys/${id}`, { name })).data,
  deletePasskey: async (id: number) => {
    await client.delete(`/auth/passkeys/${id}`)
  },
}
