//! Taking the article away (browser only): the clipboard and the `.md`
//! download.
//!
//! Copying writes two kinds at once, `text/html` and `text/plain`: an
//! editor that takes rich text (the 公众号 editor) pastes the HTML, a plain
//! field pastes the text. The asynchronous Clipboard API is used where it
//! exists (it needs https or localhost); otherwise — older WeChat
//! webviews — the page answers the `copy` event of
//! `document.execCommand("copy")`, which still works everywhere.

use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why copying failed, in plain words.
const COPY_FAILED: &str = "复制失败：浏览器不允许这个页面写剪贴板。请选中文章后用“复制”，或者下载 .md 文件。";

/// Puts `html` (if any) and `text` on the clipboard.
pub async fn copy(html: Option<&str>, text: &str) -> Result<(), String> {
    if let Some(done) = clipboard_api(html, text) {
        if JsFuture::from(done).await.is_ok() {
            return Ok(());
        }
    }
    if copy_event(html, text) {
        Ok(())
    } else {
        Err(COPY_FAILED.into())
    }
}

/// `navigator.clipboard.write([new ClipboardItem({...})])`, if the browser
/// has it.
fn clipboard_api(html: Option<&str>, text: &str) -> Option<js_sys::Promise> {
    let window = web_sys::window()?;
    let navigator = window.navigator();
    // Missing in insecure contexts and old webviews.
    let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).ok()?;
    if clipboard.is_undefined() || js_sys::Reflect::get(&window, &"ClipboardItem".into()).ok()?.is_undefined() {
        return None;
    }
    let clipboard: web_sys::Clipboard = clipboard.unchecked_into();
    let items = js_sys::Object::new();
    let put = |kind: &str, data: &str| -> Option<()> {
        let parts = js_sys::Array::of1(&JsValue::from_str(data));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(kind);
        let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
        js_sys::Reflect::set(&items, &kind.into(), &blob).ok()?;
        Some(())
    };
    if let Some(html) = html {
        put("text/html", html)?;
    }
    put("text/plain", text)?;
    let item = web_sys::ClipboardItem::new_with_record_from_str_to_blob_promise(&items).ok()?;
    Some(clipboard.write(&js_sys::Array::of1(&item)))
}

/// The old way: answer the `copy` event that `execCommand("copy")` fires.
fn copy_event(html: Option<&str>, text: &str) -> bool {
    let Some(document) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.dyn_into::<web_sys::HtmlDocument>().ok())
    else {
        return false;
    };
    let html = html.map(str::to_owned);
    let text = text.to_owned();
    let listener = Closure::<dyn FnMut(web_sys::ClipboardEvent)>::new(move |event: web_sys::ClipboardEvent| {
        if let Some(data) = event.clipboard_data() {
            if let Some(html) = &html {
                let _ = data.set_data("text/html", html);
            }
            let _ = data.set_data("text/plain", &text);
            event.prevent_default();
        }
    });
    let added = document
        .add_event_listener_with_callback("copy", listener.as_ref().unchecked_ref())
        .is_ok();
    let copied = added && document.exec_command("copy").unwrap_or(false);
    let _ = document.remove_event_listener_with_callback("copy", listener.as_ref().unchecked_ref());
    copied
}

/// Offers `text` as a file called `name`.
pub fn download(name: &str, text: &str) -> Result<(), String> {
    let failed = || "下载失败：请改用“复制 Markdown”。".to_string();
    let document = web_sys::window().and_then(|w| w.document()).ok_or_else(failed)?;
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/markdown;charset=utf-8");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(|_| failed())?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| failed())?;
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| failed())?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The browser has taken the file once the click's task is done.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 1_000);
    }
    Ok(())
}

/// A file name from the title: no characters file systems refuse.
pub fn file_name(title: &str) -> String {
    let name: String = title
        .chars()
        .filter(|c| !c.is_control() && !r#"\/:*?"<>|"#.contains(*c))
        .take(60)
        .collect();
    let name = name.trim().trim_matches('.');
    if name.is_empty() {
        "文章.md".into()
    } else {
        format!("{name}.md")
    }
}
