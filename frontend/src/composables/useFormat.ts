// Dates and numbers in the interface language.
import { computed } from 'vue'
import { useLocaleStore } from '@/stores/locale'

const DAY = /^\d{4}-\d{2}-\d{2}$/

export function useFormat() {
  const locale = useLocaleStore()
  const dateTime = computed(
    () => new Intl.DateTimeFormat(locale.current, { dateStyle: 'medium', timeStyle: 'short' }),
  )
  const dateOnly = computed(() => new Intl.DateTimeFormat(locale.current, { dateStyle: 'medium' }))
  // A calendar day from the API ("2026-11-24", a UTC day bucket) reads as that day everywhere,
  // not as the evening before west of Greenwich.
  const calendarDay = computed(
    () => new Intl.DateTimeFormat(locale.current, { dateStyle: 'medium', timeZone: 'UTC' }),
  )
  const number = computed(() => new Intl.NumberFormat(locale.current))

  return {
    formatDateTime: (value: string | null | undefined) =>
      value ? dateTime.value.format(new Date(value)) : '—',
    formatDate: (value: string | null | undefined) =>
      !value
        ? '—'
        : DAY.test(value)
          ? calendarDay.value.format(new Date(value))
          : dateOnly.value.format(new Date(value)),
    formatNumber: (value: number | null | undefined) =>
      value === null || value === undefined ? '—' : number.value.format(value),
    formatBytes: (value: number) =>
      value >= 1048576
        ? `${(value / 1048576).toFixed(1)} MB`
        : value >= 1024
          ? `${Math.round(value / 1024)} KB`
          : `${value} B`,
  }
}
