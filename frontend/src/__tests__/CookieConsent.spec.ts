import { mount } from '@vue/test-utils'
import ElementPlus from 'element-plus'
import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import CookieConsent from '@/components/CookieConsent.vue'
import { i18n } from '@/i18n'

beforeEach(() => {
  localStorage.clear()
  setActivePinia(createPinia())
})

describe('CookieConsent', () => {
  it('shows until a choice is made, then stores only that choice', async () => {
    const wrapper = mount(CookieConsent, { global: { plugins: [i18n, ElementPlus] } })
    expect(wrapper.find('[data-testid="cookie-banner"]').exists()).toBe(true)
    expect(localStorage.length).toBe(0)
    await wrapper.find('[data-testid="consent-necessary"]').trigger('click')
    expect(wrapper.find('[data-testid="cookie-banner"]').exists()).toBe(false)
    expect({ ...localStorage }).toEqual({ 'oak.consent': 'necessary' })
  })
})
