// Turn an API failure into a sentence in the current language, by its stable error code.
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import { toApiError } from '@/api/client'

export function useErrorMessage() {
  const { t, te } = useI18n()

  function errorMessage(error: unknown): string {
    const apiError = toApiError(error)
    const key = `errors.${apiError.code}`
    if (te(key)) return t(key)
    if (apiError.code === 'validation_error') {
      const fields = (apiError.details.fields ?? []) as { field: string; message: string }[]
      const first = fields[0]
      if (first) return t('errors.validation_field', { field: first.field.split('.').pop(), message: first.message })
    }
    return apiError.message || t('errors.unknown_error')
  }

  function showError(error: unknown): void {
    ElMessage.error({ message: errorMessage(error), grouping: true })
  }

  return { errorMessage, showError }
}
