import { computed } from 'vue'
import { useRoute } from 'vue-router'

/** The ?token= of a link from mail. */
export function useToken() {
  const route = useRoute()
  return computed(() => (typeof route.query.token === 'string' ? route.query.token : ''))
}
