//! The article: written into the page as it streams (Markdown rendered on
//! every piece), its state, word count and time taken, the reasoning folded
//! under 思考过程, its versions, and what the visitor can do with it: stop,
//! regenerate, continue, edit and save, copy (Markdown or 公众号 rich
//! text), download, delete.

use leptos::prelude::*;

use super::desk::{Stream, Work};
use crate::modules::writing::{
    api,
    confirm::ConfirmDialog,
    status,
    markdown,
    protocol::{ArticleDetail, GenerationStatus, Regenerate},
};

/// The article's Markdown as the page shows it: on the server through
/// ammonia too; in the browser the renderer's own output (which ammonia
/// would leave as it is, see `markdown`'s tests).
fn render(body: &str) -> String {
    #[cfg(feature = "ssr")]
    return markdown::to_safe_html(body);
    #[cfg(not(feature = "ssr"))]
    markdown::to_html(body)
}

#[component]
pub fn ArticleView(work: Work) -> impl IntoView {
    let article = work.article;
    let with = move |f: fn(&ArticleDetail) -> String| {
        move || article.with(|a| a.as_ref().map(f).unwrap_or_default())
    };
    let state = move || {
        article.with(|a| a.as_ref().map_or(GenerationStatus::Done, |a| a.status))
    };
    let running = move || !state().is_finished();
    let newest = move || {
        article.with(|a| {
            a.as_ref().is_none_or(|a| {
                a.versions.iter().map(|v| v.number).max().unwrap_or(a.version) == a.version
            })
        })
    };
    let html = Memo::new(move |_| article.with(|a| a.as_ref().map(|a| render(&a.body)).unwrap_or_default()));
    let words = Memo::new(move |_| article.with(|a| a.as_ref().map_or(0, |a| markdown::word_count(&a.body))));
    let target = move || article.with(|a| a.as_ref().map_or(1_500, |a| a.brief.length.target_chars()));
    let reasoning = with(|a| a.reasoning.clone());
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let copied = RwSignal::new(None::<&'static str>);

    view! {
        <article class="m-writer__paper" data-testid="article" data-status=move || status::word(state())>
            <header class="m-writer__paper-head">
                <p class="m-writer__crumbs">
                    <a href="/articles">"我的文章"</a>
                    " / "
                    <span data-testid="article-title">{with(|a| a.title.clone())}</span>
                </p>
                <p class="m-writer__meta">
                    <span class="m-writer__status" data-status=move || status::word(state())>
                        {move || status::label(state())}
                    </span>
                    <span data-testid="article-words">{move || format!("{} 字", words.get())}</span>
                    <span data-testid="article-time">{move || format!("用时 {}", duration(work.elapsed_ms()))}</span>
                    {with(|a| format!("{} · {}", a.brief.kind, a.brief.length.label()))}
                </p>
                <Versions work />
            </header>

            <Show when=running>
                <div class="m-writer__progress" role="status" aria-live="polite" data-testid="article-progress">
                    <progress max=target value=move || words.get().min(target() as usize)></progress>
                    <span>
                        {move || match (state(), work.stream.get()) {
                            (_, Stream::Reconnecting) => "连接中断了，正在重新连接…".to_string(),
                            (GenerationStatus::Queued, _) => "排队中：正在等待空闲的写作通道…".to_string(),
                            _ => format!("DeepSeek 正在写作：约 {} / {} 字", words.get(), target()),
                        }}
                    </span>
                </div>
            </Show>
            <Show when=move || work.stream.get() == Stream::Lost>
                <div class="m-writer__notice m-writer__notice--error" role="alert" data-testid="article-lost">
                    <p>"和服务器的连接断开了，文章仍在服务器上继续写。"</p>
                    <button type="button" class="m-writer__button" on:click=move |_| work.reconnect()>
                        "重新连接"
                    </button>
                </div>
            </Show>
            {move || {
                article
                    .with(|a| a.as_ref().and_then(|a| a.problem.clone()))
                    .filter(|_| !running())
                    .map(|problem| {
                        view! {
                            <p class="m-writer__problem" role="alert" data-testid="article-problem">
                                {problem}
                            </p>
                        }
                    })
            }}
            {move || {
                (!newest())
                    .then(|| {
                        view! {
                            <p class="m-writer__hint">
                                "这是较早的版本，只能查看和复制；修改请回到最新一版。"
                            </p>
                        }
                    })
            }}

            <Show when=move || !reasoning().is_empty()>
                <details class="m-writer__reasoning" data-testid="article-reasoning">
                    <summary>"思考过程"</summary>
                    <div class="m-writer__reasoning-text">{reasoning}</div>
                </details>
            </Show>

            <Show
                when=move || editing.get()
                fallback=move || {
                    view! {
                        <div class="m-writer__article" data-testid="article-body" inner_html=move || html.get()></div>
                        <Show when=move || running() && words.get() == 0>
                            <p class="m-writer__waiting">"文章马上就来…"</p>
                        </Show>
                    }
                }
            >
                <Editor work editing />
            </Show>

            <div class="m-writer__toolbar" role="toolbar" aria-label="文章操作">
                <Show
                    when=running
                    fallback=move || {
                        view! {
                            <Actions work editing confirming copied newest=Signal::derive(newest) />
                        }
                    }
                >
                    <button
                        type="button"
                        class="m-writer__button m-writer__button--danger"
                        data-testid="article-stop"
                        disabled=move || work.pending.get().is_some()
                        on:click=move |_| work.stop()
                    >
                        {move || work.pending.get().unwrap_or("停止")}
                    </button>
                    <span class="m-writer__hint">"停止后，已经写好的部分会保留。"</span>
                </Show>
            </div>
            {move || copied.get().map(|words| view! { <p class="m-writer__copied" role="status" data-testid="article-copied">{words}</p> })}

            <Show when=move || confirming.get()>
                <DeleteDialog work confirming />
            </Show>
        </article>
    }
}

/// The versions of the article, the shown one marked; picking one shows
/// it (not while a generation runs).
#[component]
fn Versions(work: Work) -> impl IntoView {
    let article = work.article;
    // Only what the list shows (not the text, which changes all the time).
    let list = Memo::new(move |_| {
        article.with(|a| {
            a.as_ref().map(|a| {
                let versions: Vec<_> = a.versions.iter().map(|v| (v.number, v.status)).collect();
                (versions, a.version, a.id.clone(), !a.status.is_finished())
            })
        })
    });
    move || {
        let (versions, shown, id, running) = list.get()?;
        (versions.len() > 1).then(|| {
            view! {
                <nav class="m-writer__versions" aria-label="版本" data-testid="article-versions">
                    <span>"版本："</span>
                    {versions
                        .into_iter()
                        .map(|(number, version_status)| {
                            let id = id.clone();
                            view! {
                                <button
                                    type="button"
                                    class="m-writer__version"
                                    aria-current=(number == shown).then_some("true")
                                    title=format!("第 {number} 版 · {}", status::label(version_status))
                                    disabled=running || number == shown
                                    on:click=move |_| work.load(id.clone(), Some(number))
                                >
                                    {format!("第 {number} 版")}
                                </button>
                            }
                        })
                        .collect_view()}
                </nav>
            }
        })
    }
}

#[component]
fn Actions(
    work: Work,
    editing: RwSignal<bool>,
    confirming: RwSignal<bool>,
    copied: RwSignal<Option<&'static str>>,
    newest: Signal<bool>,
) -> impl IntoView {
    let article = work.article;
    let busy = move || work.pending.get().is_some();
    let can_continue = move || {
        newest.get()
            && article.with(|a| {
                a.as_ref().is_some_and(|a| {
                    matches!(
                        a.status,
                        GenerationStatus::Stopped
                            | GenerationStatus::Failed
                            | GenerationStatus::Interrupted
                    )
                })
            })
    };
    let body = move || article.with_untracked(|a| a.as_ref().map(|a| a.body.clone()).unwrap_or_default());
    let title = move || article.with_untracked(|a| a.as_ref().map(|a| a.title.clone()).unwrap_or_default());

    let copy = move |rich: bool| {
        let text = body();
        copied.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let html = rich.then(|| markdown::to_wechat_html(&text));
            match super::take_away::copy(html.as_deref(), &text).await {
                Ok(()) => copied.set(Some(if rich {
                    "已复制为公众号格式：到公众号编辑器里直接粘贴即可。"
                } else {
                    "已复制 Markdown。"
                })),
                Err(why) => work.notice.set(Some(super::desk::Notice { text: why, login: false })),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (rich, text);
    };
    let download = move || {
        #[cfg(feature = "hydrate")]
        if let Err(why) = super::take_away::download(&super::take_away::file_name(&title()), &body()) {
            work.notice.set(Some(super::desk::Notice { text: why, login: false }));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (title, body);
    };

    view! {
        <button
            type="button"
            class="m-writer__button m-writer__button--primary"
            data-testid="article-copy-rich"
            on:click=move |_| copy(true)
        >
            "复制到公众号"
        </button>
        <button type="button" class="m-writer__button" data-testid="article-copy-markdown" on:click=move |_| copy(false)>
            "复制 Markdown"
        </button>
        <button type="button" class="m-writer__button" data-testid="article-download" on:click=move |_| download()>
            "下载 .md"
        </button>
        <Show when=move || newest.get()>
            <button
                type="button"
                class="m-writer__button"
                data-testid="article-edit"
                disabled=busy
                on:click=move |_| editing.set(true)
            >
                "修改"
            </button>
        </Show>
        <Show when=can_continue>
            <button
                type="button"
                class="m-writer__button"
                data-testid="article-continue"
                disabled=busy
                on:click=move |_| work.regenerate(Regenerate::Continue)
            >
                "接着写"
            </button>
        </Show>
        <button
            type="button"
            class="m-writer__button"
            data-testid="article-regenerate"
            disabled=busy
            title="用同样的要求再写一版，这一版会保留"
            on:click=move |_| work.regenerate(Regenerate::Fresh)
        >
            "重新生成"
        </button>
        <button
            type="button"
            class="m-writer__button m-writer__button--quiet"
            data-testid="article-delete"
            disabled=busy
            on:click=move |_| confirming.set(true)
        >
            "删除"
        </button>
        <a class="m-writer__button m-writer__button--quiet" href="/write">"写新文章"</a>
    }
}

/// Title and Markdown, saved as the newest version's text.
#[component]
fn Editor(work: Work, editing: RwSignal<bool>) -> impl IntoView {
    let (title, body) = work
        .article
        .with_untracked(|a| a.as_ref().map(|a| (a.title.clone(), a.body.clone())).unwrap_or_default());
    let title = RwSignal::new(title);
    let body = RwSignal::new(body);
    let count = move || body.with(|b| b.chars().count());
    let done = Callback::new(move |_| editing.set(false));
    view! {
        <form
            class="m-writer__editor"
            data-testid="article-editor"
            on:submit=move |ev| {
                ev.prevent_default();
                work.save(title.get_untracked(), body.get_untracked(), done);
            }
        >
            <label for="writer-edit-title">"标题"</label>
            <input
                id="writer-edit-title"
                type="text"
                data-testid="edit-title"
                prop:value=move || title.get()
                on:input=move |ev| title.set(event_target_value(&ev))
            />
            <label for="writer-edit-body">"正文（Markdown）"</label>
            <textarea
                id="writer-edit-body"
                rows="20"
                data-testid="edit-body"
                prop:value=move || body.get()
                on:input=move |ev| body.set(event_target_value(&ev))
            ></textarea>
            <span class="m-writer__count" data-over=move || (count() > crate::modules::writing::protocol::limits::BODY).to_string()>
                {count} "/" {crate::modules::writing::protocol::limits::BODY}
            </span>
            <div class="m-writer__actions">
                <button
                    type="submit"
                    class="m-writer__button m-writer__button--primary"
                    data-testid="edit-save"
                    disabled=move || work.pending.get().is_some()
                >
                    {move || work.pending.get().unwrap_or("保存")}
                </button>
                <button type="button" class="m-writer__button" data-testid="edit-cancel" on:click=move |_| editing.set(false)>
                    "取消"
                </button>
            </div>
        </form>
    }
}

#[component]
fn DeleteDialog(work: Work, confirming: RwSignal<bool>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let title = work
        .article
        .with_untracked(|a| a.as_ref().map(|a| a.title.clone()).unwrap_or_default());
    let confirm = Callback::new(move |_| {
        let Some(id) = work.id() else { return };
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match api::delete_article(id).await {
                Ok(()) => {
                    #[cfg(feature = "hydrate")]
                    let _ = window().location().set_href("/articles");
                }
                Err(why) => {
                    busy.set(false);
                    error.set(Some(why.to_string()));
                }
            }
        });
    });
    view! {
        <ConfirmDialog
            class="m-writer"
            title="删除这篇文章？".to_string()
            text=format!("《{title}》和它的所有版本都会被删除，删除后无法恢复。")
            confirm_label="删除"
            busy_label="正在删除…"
            busy
            error
            on_confirm=confirm
            on_cancel=Callback::new(move |_| confirming.set(false))
        />
    }
}

/// `42 秒`, `3 分 05 秒`.
fn duration(ms: u64) -> String {
    let seconds = ms / 1_000;
    if seconds < 60 {
        format!("{seconds} 秒")
    } else {
        format!("{} 分 {:02} 秒", seconds / 60, seconds % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0), "0 秒");
        assert_eq!(duration(42_900), "42 秒");
        assert_eq!(duration(185_000), "3 分 05 秒");
    }
}
