import { mount } from '@vue/test-utils'
import ElementPlus from 'element-plus'
import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/client'
import PageState from '@/components/PageState.vue'
import { i18n } from '@/i18n'

function render(props: { loading: boolean; error: unknown; empty?: boolean }) {
  return mount(PageState, {
    props,
    slots: { default: '<table data-testid="content" />' },
    global: { plugins: [i18n, ElementPlus] },
  })
}

function shown(wrapper: ReturnType<typeof render>): string[] {
  return ['state-loading', 'state-empty', 'state-error', 'state-refused', 'content'].filter((id) =>
    wrapper.find(`[data-testid="${id}"]`).exists(),
  )
}

describe('PageState', () => {
  it('shows the skeleton on a first load, never a bare table', () => {
    expect(shown(render({ loading: true, error: null, empty: true }))).toEqual(['state-loading'])
    expect(shown(render({ loading: true, error: null }))).toEqual(['state-loading'])
  })

  it('keeps the rows while they reload, and says so when nothing was found', () => {
    expect(shown(render({ loading: true, error: null, empty: false }))).toEqual(['content'])
    expect(shown(render({ loading: false, error: null, empty: true }))).toEqual(['state-empty'])
    expect(shown(render({ loading: false, error: null, empty: false }))).toEqual(['content'])
  })

  it('offers "try again" after a failure, and emits retry', async () => {
    const wrapper = render({ loading: false, error: new ApiError('internal_error', 'boom', 500), empty: true })
    expect(shown(wrapper)).toEqual(['state-error'])
    expect(wrapper.text()).toContain('The server had a problem')
    await wrapper.find('[data-testid="state-error"] button').trigger('click')
    expect(wrapper.emitted('retry')).toHaveLength(1)
  })

  it('says "no access" to a refusal, with nothing to try again', () => {
    const wrapper = render({ loading: false, error: new ApiError('forbidden', 'no', 403), empty: true })
    expect(shown(wrapper)).toEqual(['state-error', 'state-refused'])
    expect(wrapper.text()).toContain('No access')
    expect(wrapper.find('button').exists()).toBe(false)
  })
})
