// Starts the app: imports wasm-bindgen's JavaScript and instantiates the module.
// It is a file rather than trunk's inline loader, so the page's
// Content-Security-Policy allows scripts from 'self' only (no 'unsafe-inline', no
// per-build hash). trunk writes the built files' hashed names on the script tag
// (Trunk.toml, pattern_script).
const tag = document.querySelector("script[data-wasm]");
const { default: init } = await import(tag.dataset.js);
await init({ module_or_path: tag.dataset.wasm });
