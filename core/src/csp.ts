/**
 * The one Content-Security-Policy of the viewer page, in both modes: everything from this origin
 * only, no external requests of any kind. 'wasm-unsafe-eval' is for the image codecs
 * (WebAssembly); blob: workers for cornerstone3D's decoders; inline styles for Svelte transitions.
 * `connect` adds sources beyond 'self' (browser mode: the API socket on its exact port). data: in
 * connect-src is for itk-wasm's zstd decoder, which fetch()es its own WebAssembly from a data: URL
 * inside the slice-interpolation worker (renderer/src/lib/interpolate.ts): a data: URL reaches
 * nothing outside the page.
 */
export function contentSecurityPolicy(connect: string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    ["connect-src 'self'", ...connect, 'data:'].join(' '),
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Browser mode: the page may open the API socket on the host's own loopback port. */
export function browserContentSecurityPolicy(port: number): string {
  return contentSecurityPolicy([`ws://127.0.0.1:${port}`, `ws://localhost:${port}`]);
}
