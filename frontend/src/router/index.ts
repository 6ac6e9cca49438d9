import { createRouter, createWebHistory, type RouteComponent, type RouteMeta, type RouteRecordRaw } from 'vue-router'
import AdaptiveLayout from '@/layouts/AdaptiveLayout.vue'
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
  publicPage('/invitation', 'invitation', () => import('@/views/public/InvitationView.vue'), { title: 'public.invitation.title' }),
  {
    // The app's shell when signed in; pages marked public (archives) also open without it.
    path: '/',
    component: AdaptiveLayout,
    children: [
      { path: '', name: 'dashboard', component: () => import('@/views/DashboardView.vue'), meta: { title: 'nav.dashboard' } },
      { path: 'lists', name: 'lists', component: () => import('@/views/lists/ListsView.vue'), meta: { title: 'nav.lists' } },
      { path: 'lists/new', name: 'list-new', component: () => import('@/views/lists/ListEditView.vue'), meta: { admin: true, title: 'lists.create' } },
      { path: 'lists/:id(\\d+)', name: 'list-home', component: () => import('@/views/lists/ListHomeView.vue'), meta: { public: true, title: 'nav.lists' } },
      { path: 'archive', name: 'archive', component: () => import('@/views/archive/ArchiveIndexView.vue'), meta: { public: true, title: 'archive.title' } },
      { path: 'lists/:id(\\d+)/archive', name: 'list-archive', component: () => import('@/views/archive/ArchiveView.vue'), meta: { public: true, title: 'archive.title' } },
      { path: 'lists/:id(\\d+)/archive/threads/:thread(\\d+)', name: 'archive-thread', component: () => import('@/views/archive/ThreadView.vue'), meta: { public: true, title: 'archive.thread' } },
      { path: 'lists/:id(\\d+)/archive/:message(\\d+)', name: 'archive-message', component: () => import('@/views/archive/MessageView.vue'), meta: { public: true, title: 'archive.message' } },
      { path: 'lists/:id(\\d+)/archive/:message(\\d+)/deliveries', name: 'archive-deliveries', component: () => import('@/views/archive/DeliveriesView.vue'), meta: { title: 'deliveries.title' } },
      { path: 'lists/:id(\\d+)/bounces', name: 'list-bounces', component: () => import('@/views/lists/BouncesView.vue'), meta: { title: 'bounces.title' } },
      { path: 'lists/:id(\\d+)/requests', name: 'list-requests', component: () => import('@/views/lists/RequestsView.vue'), meta: { title: 'requests.title' } },
      { path: 'lists/:id(\\d+)/policies', name: 'list-policies', component: () => import('@/views/lists/PoliciesView.vue'), meta: { title: 'policies.title' } },
      { path: 'lists/:id(\\d+)/team', name: 'list-team', component: () => import('@/views/lists/TeamView.vue'), meta: { title: 'team.title' } },
      { path: 'lists/:id(\\d+)/templates', name: 'list-templates', component: () => import('@/views/templates/TemplatesView.vue'), meta: { title: 'templates.title' } },
      { path: 'templates', name: 'templates', component: () => import('@/views/templates/TemplatesView.vue'), meta: { title: 'templates.title' } },
      { path: 'lists/:id(\\d+)/settings', name: 'list-settings', component: () => import('@/views/lists/ListEditView.vue'), meta: { title: 'lists.settings' } },
      { path: 'lists/:id(\\d+)/subscribers', name: 'list-subscribers', component: () => import('@/views/lists/SubscribersView.vue'), meta: { title: 'subscribers.title' } },
      { path: 'lists/:id(\\d+)/moderation', name: 'list-moderation', component: () => import('@/views/moderation/ModerationView.vue'), meta: { title: 'nav.moderation' } },
      { path: 'moderation', name: 'moderation', component: () => import('@/views/moderation/ModerationView.vue'), meta: { title: 'nav.moderation' } },
      { path: 'moderation/:held(\\d+)', name: 'held', component: () => import('@/views/moderation/HeldView.vue'), meta: { title: 'moderation.detail' } },
      { path: 'domains', name: 'domains', component: () => import('@/views/admin/DomainsView.vue'), meta: { admin: true, title: 'nav.domains' } },
      { path: 'users', name: 'users', component: () => import('@/views/admin/UsersView.vue'), meta: { admin: true, title: 'nav.users' } },
      { path: 'settings', name: 'settings', component: () => import('@/views/admin/SettingsView.vue'), meta: { admin: true, title: 'nav.settings' } },
      { path: 'policies', name: 'global-policies', component: () => import('@/views/admin/GlobalPoliciesView.vue'), meta: { admin: true, title: 'globalPolicies.title' } },
      { path: 'settings/ai-moderation', name: 'ai-settings', component: () => import('@/views/admin/AiSettingsView.vue'), meta: { admin: true, title: 'aiSettings.title' } },
      { path: 'ai-moderation', name: 'ai-stats', component: () => import('@/views/ai/AiStatsView.vue'), meta: { title: 'aiStats.title' } },
      { path: 'profile', name: 'profile', component: () => import('@/views/ProfileView.vue'), meta: { title: 'nav.profile' } },
      { path: ':pathMatch(.*)*', name: 'not-found', component: () => import('@/views/NotFoundView.vue'), meta: { title: 'notFound.title' } },
    ],
  },
]

export const router = createRouter({ history: createWebHistory(), routes })
installGuards(router)
