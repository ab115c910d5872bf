import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

/**
 * The dashboard build: web/ → web/dist, served by src/web/serve.ts. Two pages share one bundle of styles and
 * components: the staff dashboard (index.html, at /) and the consumer portal (portal/index.html, at /portal/).
 * Everything is bundled; nothing comes from a CDN.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact()],
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No data: URLs, so the Content-Security-Policy can stay at 'self'.
    assetsInlineLimit: 0,
    sourcemap: false,
    rollupOptions: {
      input: {
        dashboard: fileURLToPath(new URL('index.html', import.meta.url)),
        portal: fileURLToPath(new URL('portal/index.html', import.meta.url)),
      },
    },
  },
  server: {
    // `npx vite web` during development: the API runs on `npm start` (port 3000).
    proxy: { '/api': 'http://127.0.0.1:3000' },
  },
});
