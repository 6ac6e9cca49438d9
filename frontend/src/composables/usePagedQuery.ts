// A table's query (search text, filters, page) and its load: typing in the search box asks
// again once the typing pauses, and a new search or filter starts again from page one.
import { onBeforeUnmount, reactive, watch, type UnwrapNestedRefs } from 'vue'
import type { Page } from '@/api/types'
import { useAsync, type AsyncState } from './useAsync'

export const SEARCH_PAUSE_MS = 300

interface PagedQuery {
  page: number
  per_page: number
  q?: string
}

export interface PagedState<Q, T> {
  query: UnwrapNestedRefs<Q>
  state: AsyncState<Page<T>>
  /** Back to page one and load (after a filter changed). */
  refilter: () => void
}

export function usePagedQuery<Q extends PagedQuery, T>(
  initial: Q,
  load: (query: UnwrapNestedRefs<Q>) => Promise<Page<T>>,
): PagedState<Q, T> {
  const query = reactive(initial)
  const state = useAsync(() => load(query))

  function refilter(): void {
    query.page = 1
    void state.run()
  }

  let pause: number | undefined
  watch(
    () => query.q,
    () => {
      window.clearTimeout(pause)
      pause = window.setTimeout(refilter, SEARCH_PAUSE_MS)
    },
  )
  onBeforeUnmount(() => window.clearTimeout(pause))

  return { query, state, refilter }
}
