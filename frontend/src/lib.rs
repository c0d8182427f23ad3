//! Hogwarden's web front end: a Leptos client-side app. The pure modules (runtime
//! config, PKCE, words and numbers, the request form's rules) build and test natively;
//! everything that touches the browser is compiled for wasm32 only.

pub mod config;
pub mod format;
pub mod pkce;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod load;
#[cfg(target_arch = "wasm32")]
mod nav;
#[cfg(target_arch = "wasm32")]
mod pages;
#[cfg(target_arch = "wasm32")]
mod session;

#[cfg(target_arch = "wasm32")]
pub use app::start;
