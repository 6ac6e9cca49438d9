import { createRouter, createWebHistory, type RouteComponent, type RouteMeta, type RouteRecordRaw } from 'vue-router'
import AppLayout from '@/layouts/AppLayout.vue'
import PublicLayout from '@/layouts/PublicLayout.vue'
import { installGuards } from './guards'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without signing in. */
    public?: boolean
    /** Only for visitors who are not signed in (login, register, setup). */
    guestOnly?: boolean
    admin?: boolean
    /** i18n key of the page title. */
    title?: string
  }
}

/** A page in the public layout (no sidebar), reachable without signing in. */
function publicPage(path: string, name: string, component: () => Promise<RouteComponent>, meta: RouteMeta): RouteRecordRaw {
  return { path, component: PublicLayout, children: [{ path: '', name, component, meta: { public: true, ...meta } }] }
}

const routes: RouteRecordRaw[] = [
  publicPage('/setup', 'setup', () => import('@/views/auth/SetupView.vue'), { guestOnly: true, title: 'setup.title' }),
  publicPage('/login', 'login', () => import('@/views/auth/LoginView.vue'), { guestOnly: true, title: 'login.title' }),
  publicPage('/register', 'register', () => import('@/views/auth/RegisterView.vue'), { guestOnly: true, title: 'register.title' }),
  publicPage('/lists/:id(\\d+)/subscribe', 'subscribe', () => import('@/views/public/SubscribeView.vue'), { title: 'public.subscribe.title' }),
  publicPage('/subscribe/confirm', 'confirm', () => import('@/views/public/ConfirmView.vue'), { title: 'public.confirm.title' }),
  publicPage('/unsubscribe', 'unsubscribe', () => import('@/views/public/UnsubscribeView.vue'), { title: 'public.unsubscribe.title' }),
  publicPage('/preferences', 'preferences', () => import('@/views/public/PreferencesView.vue'), { title: 'public.preferences.title' }),
  {
    path: '/',
    component: AppLayout,
    children: [
      { path: '', name: 'dashboard', component: () => import('@/views/DashboardView.vue'), meta: { title: 'nav.dashboard' } },
      { path: 'lists', name: 'lists', component: () => import('@/views/lists/ListsView.vue'), meta: { title: 'nav.lists' } },
      { path: 'lists/new', name: 'list-new', component: () => import('@/views/lists/ListEditView.vue'), meta: { admin: true, title: 'lists.create' } },
      { path: 'lists/:id(\\d+)', redirect: (to) => ({ name: 'list-subscribers', params: to.params }) },
      { path: 'lists/:id(\\d+)/settings', name: 'list-settings', component: () => import('@/views/lists/ListEditView.vue'), meta: { title: 'lists.settings' } },
      { path: 'lists/:id(\\d+)/subscribers', name: 'list-subscribers', component: () => import('@/views/lists/SubscribersView.vue'), meta: { title: 'subscribers.title' } },
      { path: 'lists/:id(\\d+)/moderation', name: 'list-moderation', component: () => import('@/views/moderation/ModerationView.vue'), meta: { title: 'nav.moderation' } },
      { path: 'moderation', name: 'moderation', component: () => import('@/views/moderation/ModerationView.vue'), meta: { title: 'nav.moderation' } },
      { path: 'moderation/:held(\\d+)', name: 'held', component: () => import('@/views/moderation/HeldView.vue'), meta: { title: 'moderation.detail' } },
      { path: 'domains', name: 'domains', component: () => import('@/views/admin/DomainsView.vue'), meta: { admin: true, title: 'nav.domains' } },
      { path: 'users', name: 'users', component: () => import('@/views/admin/UsersView.vue'), meta: { admin: true, title: 'nav.users' } },
      { path: 'settings', name: 'settings', component: () => import('@/views/admin/SettingsView.vue'), meta: { admin: true, title: 'nav.settings' } },
      { path: 'profile', name: 'profile', component: () => import('@/views/ProfileView.vue'), meta: { title: 'nav.profile' } },
      { path: ':pathMatch(.*)*', name: 'not-found', component: () => import('@/views/NotFoundView.vue'), meta: { title: 'notFound.title' } },
    ],
  },
]

export const router = createRouter({ history: createWebHistory(), routes })
installGuards(router)
