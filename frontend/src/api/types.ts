// Shapes of the /api/v1 answers the web app reads (src/oak_maillist/api/v1/schemas/).

export type Language = 'en' | 'zh-CN'
export type SystemRole = 'admin' | 'user'
export type DigestMode = 'none' | 'daily' | 'weekly'

export interface Page<T> {
  items: T[]
  total: number
  page: number
  per_page: number
}

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> }
}

export interface User {
  id: number
  email: string
  display_name: string
  language: string
  role: SystemRole
  is_active: boolean
  totp_enabled: boolean
  created_at: string
  last_login_at: string | null
}

export interface TokenPair {
  access_token: string
  refresh_token: string
  token_type: 'bearer'
  expires_in: number
  user: User
}

export interface MfaRequired {
  mfa_required: true
  mfa_token: string
  methods: string[]
  expires_in: number
}

export interface SystemInfo {
  name: string
  version: string
  base_url: string
  languages: string[]
  webauthn_rp_id: string
}

export interface Ceremony {
  challenge_id: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  options: any
}

export type Visibility = 'public' | 'private'
export type SubscriptionPolicy = 'open' | 'invite' | 'approval'
export type PostingPolicy = 'members' | 'anyone' | 'moderated' | 'announce'
export type NonmemberAction = 'hold' | 'reject' | 'discard'
export type ReplyToMode = 'none' | 'list' | 'address'
export type AiAction = 'hold' | 'accept' | 'mark' | 'reject' | 'discard'
export type DmarcMitigation = 'munge_from' | 'wrap' | 'none'

export interface ListSettings {
  name: string
  description: string
  subject_prefix: string
  reply_to_mode: ReplyToMode
  reply_to_address: string
  footer: string
  ai_flagged_action: AiAction
  ai_caution_action: AiAction
  ai_on_error: AiAction
  dmarc_mitigation: DmarcMitigation
  personalize: boolean
  emergency_hold: boolean
  visibility: Visibility
  subscription_policy: SubscriptionPolicy
  posting_policy: PostingPolicy
  nonmember_action: NonmemberAction
  max_message_size: number
  archive_enabled: boolean
  archive_public: boolean
  ai_moderation_enabled: boolean
  language: Language
}

/** The settings the site gives a new list unless its creator says otherwise. */
export type ListDefaults = Pick<
  ListSettings,
  | 'visibility'
  | 'subscription_policy'
  | 'posting_policy'
  | 'nonmember_action'
  | 'max_message_size'
  | 'archive_enabled'
  | 'archive_public'
  | 'ai_moderation_enabled'
  | 'language'
>

export interface MailingList extends ListSettings {
  id: number
  domain_id: number
  local_part: string
  address: string
  is_active: boolean
  created_at: string
  updated_at: string
  counts: { subscribers: number; messages: number; pending_moderation: number }
  my_role: 'admin' | 'owner' | 'moderator' | null
}

export type ListCreate = Partial<ListSettings> & {
  domain_id: number
  local_part: string
  name: string
  owner_ids?: number[]
}

export type ListUpdate = Partial<ListSettings> & { is_active?: boolean }

export type SubscriberStatus =
  | 'pending'
  | 'active'
  | 'disabled'
  | 'unsubscribed'
  | 'bouncing'
  | 'invited'
  | 'awaiting_approval'

export interface Subscriber {
  id: number
  email: string
  name: string
  status: SubscriberStatus
  digest_mode: DigestMode
  digest_format: DigestFormat
  language: string
  source: string
  bounce_score: number
  subscribed_at: string | null
  unsubscribed_at: string | null
  created_at: string
}

export interface SubscriberCreate {
  email: string
  name?: string
  digest_mode?: DigestMode
  digest_format?: DigestFormat
  status?: 'active' | 'disabled' | 'unsubscribed'
  language?: Language
}

export interface ImportRowError {
  line: number
  email: string
  reason: string
  message: string
}

export interface ImportResult {
  dry_run: boolean
  mode: 'active' | 'confirm'
  total_rows: number
  imported: number
  skipped: number
  skipped_by_reason: Record<string, number>
  errors: ImportRowError[]
  errors_truncated: boolean
}

export interface AiVerdict {
  provider: string
  score: number | null
  level: string
  labels: string[]
  risk_words: string[]
  error: string | null
}

export interface HeldMessage {
  id: number
  list_id: number
  sender_email: string
  subject: string
  reason: string
  reasons: string[]
  status: string
  created_at: string
  expires_at: string | null
  decided_by_id: number | null
  decided_at: string | null
  decision_note: string
  ai: AiVerdict | null
}

export interface HeldDetail extends HeldMessage {
  from_name: string
  to: string[]
  date: string | null
  message_id: string
  size: number
  text: string
  html: string | null
  attachments: { filename: string; content_type: string; size: number }[]
  defects: string[]
}

export interface Decision {
  held: HeldMessage
  outcome: string
  message_id: number | null
}

export interface BulkItem {
  id: number
  ok: boolean
  outcome: string
  error: string
}

export interface DayPoint {
  day: string
  new_subscribers: number
  unsubscribed: number
  messages: number
}

export interface Dashboard {
  totals: {
    users: number | null
    lists: number
    active_subscribers: number
    archived_messages: number
    pending_moderation: number
    pending_deliveries: number
  }
  since: string
  days: DayPoint[]
  lists: {
    list_id: number
    name: string
    address: string
    active_subscribers: number
    messages: number
    pending_moderation: number
    days: DayPoint[]
  }[]
}

export interface DnsRecord {
  type: string
  name: string
  value: string
  purpose: 'dkim' | 'spf' | 'dmarc'
}

export interface Domain {
  id: number
  name: string
  description: string
  is_active: boolean
  smtp_host: string
  smtp_port: number | null
  smtp_security: string
  smtp_username: string
  smtp_password_set: boolean
  dkim_enabled: boolean
  dkim_selector: string
  dkim_algorithm: string
  dkim_public_key: string | null
  dkim_ed25519_enabled: boolean
  dkim_ed25519_selector: string
  dkim_ed25519_public_key: string | null
  list_count: number
  dns_records: DnsRecord[]
  created_at: string
  updated_at: string
}

export interface SubscriptionOutcome {
  status: string
  list_name: string
  email: string
}

export interface Preferences {
  list_id: number
  list_name: string
  email: string
  digest_mode: DigestMode
  digest_format: DigestFormat
  status: string
}

export type DigestFormat = 'mime' | 'plain'

// The archive (schemas/archive.py).
export interface MessageSummary {
  id: number
  thread_id: number | null
  parent_id: number | null
  subject: string
  sender_email: string
  sender_name: string
  date: string | null
  received_at: string
  has_attachments: boolean
  size: number
  preview: string
}

export interface Attachment {
  id: number
  filename: string
  content_type: string
  size: number
  sha256: string
  content_id: string
  is_inline: boolean
  stored: boolean
}

export interface ThreadPosition {
  thread_id: number
  subject: string
  message_count: number
  index: number
  depth: number
  previous_id: number | null
  next_id: number | null
}

export interface MessageDetail extends MessageSummary {
  message_id: string
  in_reply_to: string
  references: string[]
  text: string
  html: string | null
  attachments: Attachment[]
  defects: string[]
  thread: ThreadPosition | null
}

export interface Thread {
  id: number
  subject: string
  message_count: number
  created_at: string
  last_activity_at: string
}

export interface ThreadNode {
  id: number
  // the post it answers; past the server's nesting limit a reply is listed under an ancestor
  parent_id: number | null
  subject: string
  sender_email: string
  sender_name: string
  date: string | null
  depth: number
  children: ThreadNode[]
}

export interface ThreadTree extends Thread {
  roots: ThreadNode[]
}

export interface SearchHit {
  id: number
  thread_id: number | null
  subject: string
  sender_email: string
  sender_name: string
  date: string | null
  received_at: string
  /** HTML-escaped text, matches in <mark>. */
  snippet: string
  subject_highlighted: string
  rank: number
}

// Deliveries and bounces (schemas/deliveries.py).
export type DeliveryStatus = 'queued' | 'sending' | 'sent' | 'deferred' | 'failed' | 'bounced'

export interface Delivery {
  id: number
  recipient: string
  status: DeliveryStatus
  attempts: number
  next_attempt_at: string
  last_code: number | null
  last_reply: string | null
  sent_at: string | null
}

export interface DeliveryReport {
  counts: Record<string, number>
  total: number
  items: Delivery[]
  page: number
  per_page: number
}

export interface Bounce {
  id: number
  subscriber_id: number | null
  recipient: string
  kind: 'hard' | 'soft'
  diagnostic: string
  received_at: string
}

// Subscription requests, invitations, roles.
export interface SubscriptionRequest {
  id: number
  email: string
  name: string
  language: string
  digest_mode: DigestMode
  source: string
  waiting_since: string
}

export interface ListInvitation {
  id: number
  email: string
  name: string
  language: string
  invited_by_id: number | null
  created_at: string
  expires_at: string
}

export interface InvitationsCreated {
  invited: ListInvitation[]
  skipped: { email: string; reason: 'already_subscribed' | 'invalid_email' }[]
}

export interface InvitationPreview {
  list_name: string
  list_description: string
}

export type ListRoleName = 'owner' | 'moderator'

export interface ListRole {
  user_id: number
  email: string
  display_name: string
  role: ListRoleName
}

// Sender policies (schemas/policies.py).
export type PolicyKind = 'whitelist' | 'blacklist'
export type PatternType = 'exact' | 'domain' | 'glob'

export interface Policy {
  id: number
  list_id: number | null
  kind: PolicyKind
  pattern_type: PatternType
  pattern: string
  include_subdomains: boolean
  action: 'discard' | 'reject'
  position: number
  note: string
  created_by_id: number | null
  created_at: string
}

export type PolicyInput = Pick<Policy, 'kind' | 'pattern_type' | 'pattern' | 'include_subdomains' | 'action' | 'note'>

// Templates (schemas/templates.py).
export interface TemplateVariable {
  name: string
  description: string
  sample: unknown
}

export interface TemplateInfo {
  name: string
  description: string
  has_subject: boolean
  variables: TemplateVariable[]
  overridden_languages: Language[]
}

export interface TemplateSource {
  name: string
  language: Language
  subject: string
  body: string
  source: 'list' | 'site' | 'builtin'
  overridden: boolean
  updated_at: string | null
  updated_by_id: number | null
}

export interface Rendered {
  subject: string
  body: string
}
