//! The browser entry point.

#[cfg(target_arch = "wasm32")]
fn main() {
    hogwarden_frontend::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("The front end runs in a browser: build it with `trunk build --release` in frontend/.");
}
