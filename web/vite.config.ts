import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

/** The dashboard build: web/ → web/dist, served by src/web/serve.ts. Everything is bundled; nothing comes from a CDN. */
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
  },
  server: {
    // `npx vite web` during development: the API runs on `npm start` (port 3000).
    proxy: { '/api': 'http://127.0.0.1:3000' },
  },
});
