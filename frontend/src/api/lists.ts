// Mailing lists and their subscribers.
import { client } from './client'
import type {
  DigestMode,
  ImportResult,
  ListCreate,
  ListUpdate,
  MailingList,
  Page,
  Subscriber,
  SubscriberCreate,
  SubscriberStatus,
} from './types'

export interface PageQuery {
  page?: number
  per_page?: number
  q?: string
}

function clean<T extends object>(params: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(params).filter(([, value]) => value !== '' && value !== null && value !== undefined),
  ) as Partial<T>
}

export const listsApi = {
  list: async (query: PageQuery = {}) =>
    (await client.get<Page<MailingList>>('/lists', { params: clean(query) })).data,
  get: async (id: number) => (await client.get<MailingList>(`/lists/${id}`)).data,
  create: async (body: ListCreate) => (await client.post<MailingList>('/lists', body)).data,
  update: async (id: number, body: ListUpdate) =>
    (await client.put<MailingList>(`/lists/${id}`, body)).data,
  deactivate: async (id: number) => {
    await client.delete(`/lists/${id}`)
  },
}

export interface SubscriberQuery extends PageQuery {
  status?: SubscriberStatus | ''
  digest_mode?: DigestMode | ''
}

export const subscribersApi = {
  list: async (listId: number, query: SubscriberQuery = {}) =>
    (
      await client.get<Page<Subscriber>>(`/lists/${listId}/subscribers`, {
        params: clean(query),
      })
    ).data,
  add: async (listId: number, body: SubscriberCreate) =>
    (await client.post<Subscriber>(`/lists/${listId}/subscribers`, body)).data,
  update: async (
    listId: number,
    id: number,
    body: Partial<Pick<Subscriber, 'name' | 'digest_mode' | 'digest_format' | 'language'>> & { status?: string },
  ) => (await client.patch<Subscriber>(`/lists/${listId}/subscribers/${id}`, body)).data,
  remove: async (listId: number, id: number) => {
    await client.delete(`/lists/${listId}/subscribers/${id}`)
  },
  import: async (
    listId: number,
    file: File,
    options: { dryRun: boolean; mode: 'active' | 'confirm' },
    onProgress?: (percent: number) => void,
  ) => {
    const form = new FormData()
    form.append('file', file)
    const { data } = await client.post<ImportResult>(`/lists/${listId}/subscribers/import`, form, {
      params: { dry_run: options.dryRun, mode: options.mode },
      onUploadProgress: (event) => {
        if (onProgress && event.total) onProgress(Math.round((event.loaded / event.total) * 100))
      },
    })
    return data
  },
  export: async (listId: number, status?: SubscriberStatus | '') => {
    const response = await client.get<Blob>(`/lists/${listId}/subscribers/export`, {
      params: clean({ status }),
      responseType: 'blob',
    })
    return { blob: response.data, disposition: response.headers['content-disposition'] as string | undefined }
  },
}
