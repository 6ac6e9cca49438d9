// A load with loading, error and data states for a page or a panel.
import { ref, shallowRef, type Ref, type ShallowRef } from 'vue'

export interface AsyncState<T> {
  data: ShallowRef<T | null>
  loading: Ref<boolean>
  error: ShallowRef<unknown>
  run: () => Promise<void>
}

export function useAsync<T>(load: () => Promise<T>): AsyncState<T> {
  const data = shallowRef<T | null>(null)
  const loading = ref(false)
  const error = shallowRef<unknown>(null)
  let generation = 0

  async function run(): Promise<void> {
    const mine = ++generation
    loading.value = true
    error.value = null
    try {
      const result = await load()
      if (mine === generation) data.value = result
    } catch (caught) {
      if (mine === generation) error.value = caught
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  return { data, loading, error, run }
}
