// Registers the Element Plus components the app uses (listed in elementComponents.ts) and the
// v-loading directive. A web test fails if a page renders an unregistered <el-*> tag.
import type { App, Plugin } from 'vue'
import { ElLoading } from 'element-plus'
import * as components from './elementComponents'

export function installElement(app: App): void {
  for (const component of Object.values(components)) app.use(component as Plugin)
  app.use(ElLoading)
}
