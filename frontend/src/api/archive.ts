// The list archive: threads, messages, search, downloads; delivery status and bounces.
import { client, filenameFrom, saveBlob } from './client'
import type {
  Bounce,
  DeliveryReport,
  DeliveryStatus,
  MessageDetail,
  MessageSummary,
  Page,
  SearchHit,
  Thread,
  ThreadTree,
} from './types'

export interface PageParams {
  page?: number
  per_page?: number
}

/** Fetch a file with the caller's credentials (private archives need them) and save it. */
async function download(url: string, fallback: string): Promise<void> {
  const response = await client.get<Blob>(url, { responseType: 'blob' })
  saveBlob(response.data, filenameFrom(response.headers['content-disposition'] as string | undefined, fallback))
}

export const archiveApi = {
  threads: async (listId: number, params: PageParams = {}) =>
    (await client.get<Page<Thread>>(`/lists/${listId}/threads`, { params })).data,
  messages: async (listId: number, params: PageParams = {}) =>
    (await client.get<Page<MessageSummary>>(`/lists/${listId}/messages`, { params })).data,
  thread: async (listId: number, threadId: number) =>
    (await client.get<ThreadTree>(`/lists/${listId}/threads/${threadId}`)).data,
  message: async (listId: number, messageId: number) =>
    (await client.get<MessageDetail>(`/lists/${listId}/messages/${messageId}`)).data,
  search: async (listId: number, q: string, params: PageParams = {}) =>
    (await client.get<Page<SearchHit>>(`/lists/${listId}/search`, { params: { q, ...params } })).data,
  downloadRaw: (listId: number, messageId: number) =>
    download(`/lists/${listId}/messages/${messageId}/raw`, `message-${messageId}.eml`),
  downloadAttachment: (listId: number, messageId: number, attachmentId: number, filename: string) =>
    download(`/lists/${listId}/messages/${messageId}/attachments/${attachmentId}`, filename || `attachment-${attachmentId}`),
  downloadThreadMbox: (listId: number, threadId: number) =>
    download(`/lists/${listId}/threads/${threadId}/mbox`, `thread-${threadId}.mbox`),
  downloadMbox: (listId: number) => download(`/lists/${listId}/mbox`, `list-${listId}.mbox`),
  deliveries: async (listId: number, messageId: number, params: PageParams & { status?: DeliveryStatus | '' } = {}) =>
    (
      await client.get<DeliveryReport>(`/lists/${listId}/messages/${messageId}/deliveries`, {
        params: Object.fromEntries(Object.entries(params).filter(([, v]) => v !== '' && v != null)),
      })
    ).data,
  retryDeliveries: async (listId: number, messageId: number) =>
    (await client.post<{ queued: number }>(`/lists/${listId}/messages/${messageId}/deliveries/retry`, {})).data,
}

export const bouncesApi = {
  list: async (listId: number, params: PageParams = {}) =>
    (await client.get<Page<Bounce>>(`/lists/${listId}/bounces`, { params })).data,
}
