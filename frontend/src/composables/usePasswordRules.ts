// Form rules that match the server's (address syntax, password length) and say so as you type.
import type { FormItemRule } from 'element-plus'
import { useI18n } from 'vue-i18n'

// The server's configured minimum is published only in the OpenAPI schema; 8 is its default.
export const PASSWORD_MIN_LENGTH = 8
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export function useFormRules() {
  const { t } = useI18n()
  const required = (): FormItemRule => ({ required: true, message: t('validation.required'), trigger: 'blur' })
  const email = (): FormItemRule[] => [
    required(),
    { pattern: EMAIL, message: t('validation.email'), trigger: ['blur', 'change'] },
  ]
  const password = (): FormItemRule[] => [
    required(),
    {
      min: PASSWORD_MIN_LENGTH,
      max: 1024,
      message: t('validation.passwordLength', { min: PASSWORD_MIN_LENGTH }),
      trigger: ['blur', 'change'],
    },
  ]
  return { required, email, password }
}
