// The list a page is about (from :id in the route) and what the caller may do with it.
import { computed, ref, watch } from 'vue'
import { useRoute } from 'vue-router'
import { listsApi } from '@/api/lists'
import type { MailingList } from '@/api/types'

export function useList() {
  const route = useRoute()
  const listId = computed(() => Number(route.params.id))
  const list = ref<MailingList | null>(null)
  const listError = ref<unknown>(null)

  async function loadList(): Promise<void> {
    if (!listId.value) return
    listError.value = null
    try {
      list.value = await listsApi.get(listId.value)
    } catch (error) {
      listError.value = error
    }
  }
  watch(listId, (id, old) => {
    if (id && id !== old) void loadList()
  })

  const role = computed(() => list.value?.my_role ?? null)
  const canOwn = computed(() => role.value === 'admin' || role.value === 'owner')
  const canModerate = computed(() => canOwn.value || role.value === 'moderator')
  return { listId, list, listError, loadList, canOwn, canModerate }
}
