import { onBeforeUnmount, ref, type Ref } from 'vue'

export function useMediaQuery(query: string): Ref<boolean> {
  const media = window.matchMedia(query)
  const matches = ref(media.matches)
  const listener = (event: MediaQueryListEvent) => {
    matches.value = event.matches
  }
  media.addEventListener('change', listener)
  onBeforeUnmount(() => media.removeEventListener('change', listener))
  return matches
}
