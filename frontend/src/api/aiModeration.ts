// AI moderation: verdict statistics per list (moderators) and the provider's settings (admins).
import { client } from './client'

export type AiLevel = 'none' | 'caution' | 'flagged' | 'error'

export interface AiCounts {
  total: number
  levels: Record<AiLevel, number>
  providers: Record<string, number>
  held: number
  approved: number
  rejected: number
  overturn_rate: number | null
  false_positives: number
  false_negatives: number
  false_positive_rate: number | null
  false_negative_rate: number | null
  error_rate: number | null
  latency: { p50_ms: number | null; p95_ms: number | null; max_ms: number | null }
}

export interface ListAiStats extends AiCounts {
  list_id: number
  name: string
}

/** Verdicts by level and AI holds on one UTC day. */
export interface AiDay {
  day: string
  levels: Record<AiLevel, number>
  held: number
}

export interface AiStats {
  since: string
  days: number
  /** Every list in scope added up. */
  totals: AiCounts
  /** Every day of the window, oldest first. */
  series: AiDay[]
  lists: ListAiStats[]
}

/** One call to the provider in effect: ok, or the provider's error text. */
export interface ConnectionTest {
  ok: boolean
  provider: string
  latency_ms: number
  score: number | null
  error: string | null
}

export type AiProvider = 'aliyun' | 'openai' | 'rspamd' | 'spamassassin'
export const AI_SECRETS = ['access_key_id', 'access_key_secret', 'api_key'] as const
export type AiSecret = (typeof AI_SECRETS)[number]

export interface AiSettings {
  enabled: boolean
  provider: AiProvider
  endpoint: string
  region: string
  service: string
  model: string
  openai_mode: 'moderations' | 'chat'
  learn_endpoint: string
  high_risk_threshold: number
  medium_risk_threshold: number
  request_timeout_seconds: number
  max_text_length: number
  max_retries: number
  circuit_failure_threshold: number
  circuit_reset_seconds: number
  access_key_id_set: boolean
  access_key_secret_set: boolean
  api_key_set: boolean
  overridden: string[]
  circuit: string
}

/** Any subset; secrets are write-only and "" drops a run-time value (back to the file's). */
export type AiSettingsUpdate = Partial<Omit<AiSettings, `${AiSecret}_set` | 'overridden' | 'circuit'>> &
  Partial<Record<AiSecret, string>>

export const aiModerationApi = {
  stats: async (params: { days?: number; list_id?: number | null }) =>
    (
      await client.get<AiStats>('/ai-moderation/stats', {
        params: Object.fromEntries(Object.entries(params).filter(([, v]) => v != null)),
      })
    ).data,
  settings: async () => (await client.get<AiSettings>('/settings/ai-moderation')).data,
  updateSettings: async (body: AiSettingsUpdate) =>
    (await client.patch<AiSettings>('/settings/ai-moderation', body)).data,
  /** Set run-time values back to the configuration file's (the site default). */
  resetSettings: async (names: string[]) =>
    (await client.post<AiSettings>('/ai-moderation/settings/reset', { names })).data,
  testConnection: async () => (await client.post<ConnectionTest>('/ai-moderation/test-connection')).data,
}
