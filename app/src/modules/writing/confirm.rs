//! "Are you sure?" before something that cannot be undone (deleting an
//! article). A native modal `<dialog>`: focus stays inside, Esc cancels,
//! focus starts on 取消 (the safe choice) and returns to what opened it.

use leptos::{html, prelude::*};

/// Shown while `open`; `class` is the module's own prefix (its CSS styles
/// `{class}__dialog` and the rest).
#[component]
pub fn ConfirmDialog(
    class: &'static str,
    title: String,
    text: String,
    confirm_label: &'static str,
    /// The confirm button's text while it works, e.g. 正在删除….
    busy_label: &'static str,
    /// Working on it: the buttons wait.
    #[prop(into)]
    busy: Signal<bool>,
    /// Why it failed, in plain words.
    #[prop(into)]
    error: Signal<Option<String>>,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    let cancel_button = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(dialog) = dialog.get() {
            if !dialog.open() {
                let _ = dialog.show_modal();
                if let Some(button) = cancel_button.get() {
                    let _ = button.focus();
                }
            }
        }
    });
    let leave = move || {
        if busy.get_untracked() {
            return;
        }
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
        on_cancel.run(());
    };
    view! {
        <dialog
            node_ref=dialog
            class=format!("{class}__dialog")
            aria-labelledby=format!("{class}-confirm-title")
            aria-describedby=format!("{class}-confirm-text")
            data-testid="confirm-dialog"
            on:cancel=move |ev: leptos::ev::Event| {
                ev.prevent_default();
                leave();
            }
        >
            <h2 id=format!("{class}-confirm-title") class=format!("{class}__dialog-title")>
                {title}
            </h2>
            <p id=format!("{class}-confirm-text") class=format!("{class}__dialog-text")>
                {text}
            </p>
            {move || {
                error
                    .get()
                    .map(|error| {
                        view! {
                            <p class=format!("{class}__dialog-error") role="alert">
                                {error}
                            </p>
                        }
                    })
            }}
            <div class=format!("{class}__dialog-actions")>
                <button
                    type="button"
                    node_ref=cancel_button
                    class=format!("{class}__button")
                    data-testid="confirm-cancel"
                    disabled=move || busy.get()
                    on:click=move |_| leave()
                >
                    "取消"
                </button>
                <button
                    type="button"
                    class=format!("{class}__button {class}__button--danger")
                    data-testid="confirm-ok"
                    disabled=move || busy.get()
                    on:click=move |_| on_confirm.run(())
                >
                    {move || if busy.get() { busy_label } else { confirm_label }}
                </button>
            </div>
        </dialog>
    }
}
