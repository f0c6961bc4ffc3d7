//! The browser entry point: hydrates the interactive islands of the
//! server-rendered page (the rest of the page is plain HTML).

// Linked for its islands, which register themselves with wasm-bindgen.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
