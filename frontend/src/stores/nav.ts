// What the sidebar needs beyond the user's role: do they moderate anything, and how much waits.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { listsApi } from '@/api/lists'
import { moderationApi } from '@/api/moderation'

export const useNavStore = defineStore('nav', () => {
  const managesLists = ref(false)
  const pending = ref(0)

  async function refresh(isAdmin: boolean): Promise<void> {
    try {
      if (!isAdmin) {
        const page = await listsApi.list({ per_page: 100 })
        managesLists.value = page.items.some((list) => list.my_role !== null)
      } else {
        managesLists.value = true
      }
      pending.value = managesLists.value ? (await moderationApi.queue({ per_page: 1 })).total : 0
    } catch {
      /* the badge is a hint; pages show their own errors */
    }
  }

  return { managesLists, pending, refresh }
})
