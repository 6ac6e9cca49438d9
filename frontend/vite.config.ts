import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The backend serves dist/ at "/"; `npm run dev` proxies the API to a local `oak-maillist serve`.
export default defineConfig({
  plugins: [vue()],
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/health': 'http://127.0.0.1:3000',
    },
  },
  build: {
    target: 'es2022',
    // Element Plus is one vendor chunk (~550 kB, ~185 kB gzipped), cached for good (hashed name);
    // splitting it by size breaks its module initialisation order.
    chunkSizeWarningLimit: 600,
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [
            { name: 'element-plus', test: /node_modules[\\/](element-plus|@element-plus|@floating-ui|@popperjs|dayjs|lodash)/ },
            { name: 'vendor', test: /node_modules[\\/](vue|@vue|vue-router|pinia|vue-i18n|@intlify|axios)/ },
          ],
        },
      },
    },
  },
})
