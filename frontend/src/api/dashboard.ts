import { client } from './client'
import type { Dashboard } from './types'

export const dashboardApi = {
  get: async (days = 30) => (await client.get<Dashboard>('/dashboard', { params: { days } })).data,
}
