// Builds the dashboard into web/dist, which `kgtwin serve` serves at `/` (relative asset paths, so
// the bundle also works behind a path prefix).
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 600 },
  server: { proxy: { "/graphql": { target: "http://127.0.0.1:8080", ws: true } } },
});
