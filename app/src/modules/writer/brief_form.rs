//! The brief: 主题, kind, tone, length, keywords, notes, 深度思考; then
//! either 开始写作, or an outline first (drafted by DeepSeek, edited by the
//! visitor, then written section by section). Every field has its limit
//! (`protocol::limits`) shown as a count and checked before sending; the
//! server checks again and its words land under the same field.

use leptos::{ev::SubmitEvent, prelude::*};

use super::{desk::Work, WriterSettings};
use crate::modules::writing::{
    api,
    protocol::{limits, Brief, Length},
};

/// What the form holds (each a signal).
#[derive(Clone, Copy)]
struct Fields {
    topic: RwSignal<String>,
    kind: RwSignal<String>,
    tone: RwSignal<String>,
    length: RwSignal<Length>,
    keywords: RwSignal<String>,
    notes: RwSignal<String>,
    thinking: RwSignal<bool>,
    /// The outline step: `Some` once an outline was drafted.
    outline: RwSignal<Option<String>>,
}

impl Fields {
    fn brief(self, with_outline: bool) -> Brief {
        Brief {
            topic: self.topic.get_untracked().trim().to_owned(),
            kind: self.kind.get_untracked(),
            tone: self.tone.get_untracked(),
            length: self.length.get_untracked(),
            keywords: split_keywords(&self.keywords.get_untracked()),
            notes: self.notes.get_untracked().trim().to_owned(),
            outline: if with_outline {
                self.outline.get_untracked()
            } else {
                None
            },
            thinking: self.thinking.get_untracked(),
        }
    }
}

/// Keywords as the visitor types them: separated by commas (either
/// width), 、, semicolons or spaces; repeats dropped.
pub fn split_keywords(text: &str) -> Vec<String> {
    let mut keywords: Vec<String> = Vec::new();
    for word in text.split([',', '，', '、', ';', '；', ' ', '\u{3000}', '\n', '\t']) {
        let word = word.trim();
        if !word.is_empty() && !keywords.iter().any(|k| k == word) {
            keywords.push(word.to_owned());
        }
    }
    keywords
}

/// The brief's rules, as the server checks them: field → what to change.
pub fn check(brief: &Brief) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let mut refuse = |field: &str, message: String| errors.push((field.to_owned(), message));
    let count = |text: &str| text.trim().chars().count();
    if brief.topic.trim().is_empty() {
        refuse("topic", "请填写主题或标题。".into());
    } else if count(&brief.topic) > limits::TOPIC {
        refuse(
            "topic",
            format!("主题或标题最多 {} 个字，现在有 {} 个字。", limits::TOPIC, count(&brief.topic)),
        );
    }
    if brief.keywords.len() > limits::KEYWORDS {
        refuse(
            "keywords",
            format!(
                "关键词最多 {} 个，现在有 {} 个，请删掉一些。",
                limits::KEYWORDS,
                brief.keywords.len()
            ),
        );
    } else if let Some(long) = brief.keywords.iter().find(|k| count(k) > limits::KEYWORD) {
        refuse(
            "keywords",
            format!("每个关键词最多 {} 个字，“{long}”太长了。", limits::KEYWORD),
        );
    }
    if count(&brief.notes) > limits::NOTES {
        refuse(
            "notes",
            format!("补充说明最多 {} 个字，现在有 {} 个字。", limits::NOTES, count(&brief.notes)),
        );
    }
    if let Some(outline) = &brief.outline {
        if outline.trim().is_empty() {
            refuse(
                "outline",
                "大纲是空的：请写下几个小节，或者选“不用大纲，直接写”。".into(),
            );
        } else if count(outline) > limits::OUTLINE {
            refuse(
                "outline",
                format!("大纲最多 {} 个字，现在有 {} 个字。", limits::OUTLINE, count(outline)),
            );
        }
    }
    errors
}

#[component]
pub fn BriefForm(settings: WriterSettings, work: Work, logged_in: Signal<bool>) -> impl IntoView {
    let WriterSettings {
        heading,
        intro,
        kinds,
        tones,
        lengths,
        thinking,
    } = settings;
    let middle = lengths.get(lengths.len() / 2).copied().unwrap_or_default();
    let fields = Fields {
        topic: RwSignal::new(String::new()),
        kind: RwSignal::new(kinds.first().cloned().unwrap_or_default()),
        tone: RwSignal::new(String::new()),
        length: RwSignal::new(if lengths.contains(&Length::Medium) {
            Length::Medium
        } else {
            middle
        }),
        keywords: RwSignal::new(String::new()),
        notes: RwSignal::new(String::new()),
        thinking: RwSignal::new(false),
        outline: RwSignal::new(None),
    };
    let drafting = RwSignal::new(false);
    let busy = Signal::derive(move || drafting.get() || work.pending.get().is_some());

    let error_of = move |field: &'static str| {
        move || {
            work.field_errors.with(|errors| {
                errors
                    .iter()
                    .find(|(f, _)| f == field)
                    .map(|(_, message)| message.clone())
            })
        }
    };
    let valid = move |brief: &Brief| {
        let errors = check(brief);
        let ok = errors.is_empty();
        work.field_errors.set(errors);
        ok
    };

    let write = move |with_outline: bool| {
        let brief = fields.brief(with_outline);
        if valid(&brief) {
            work.start(brief);
        }
    };
    let draft_outline = move || {
        let brief = fields.brief(false);
        if !valid(&brief) {
            return;
        }
        work.notice.set(None);
        drafting.set(true);
        leptos::task::spawn_local(async move {
            let result = api::draft_outline(brief).await;
            drafting.set(false);
            match result {
                Ok(outline) => fields.outline.set(Some(outline)),
                Err(error) => work.fail(error),
            }
        });
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if logged_in.get_untracked() && !busy.get_untracked() {
            write(fields.outline.with_untracked(Option::is_some));
        }
    };

    view! {
        <form class="m-writer__form" data-testid="brief-form" novalidate on:submit=on_submit>
            <header class="m-writer__intro">
                <h1 class="m-writer__heading">{heading}</h1>
                {(!intro.is_empty()).then(|| view! { <p>{intro}</p> })}
            </header>

            <div class="m-writer__field">
                <label for="writer-topic">"主题或标题" <span class="m-writer__required">"（必填）"</span></label>
                <input
                    id="writer-topic"
                    name="topic"
                    type="text"
                    autocomplete="off"
                    placeholder="例如：春天喝什么茶"
                    data-testid="brief-topic"
                    aria-invalid=move || error_of("topic")().is_some().to_string()
                    aria-describedby="writer-topic-error"
                    prop:value=move || fields.topic.get()
                    on:input=move |ev| fields.topic.set(event_target_value(&ev))
                />
                <Count text=fields.topic max=limits::TOPIC />
                <FieldError id="writer-topic-error" message=Signal::derive(error_of("topic")) />
            </div>

            <div class="m-writer__row">
                <div class="m-writer__field">
                    <label for="writer-kind">"文章类型"</label>
                    <select
                        id="writer-kind"
                        name="kind"
                        data-testid="brief-kind"
                        on:change=move |ev| fields.kind.set(event_target_value(&ev))
                    >
                        {kinds
                            .into_iter()
                            .map(|kind| {
                                let selected = fields.kind.get_untracked() == kind;
                                view! { <option value=kind.clone() selected=selected>{kind.clone()}</option> }
                            })
                            .collect_view()}
                    </select>
                </div>
                {(!tones.is_empty())
                    .then(|| {
                        view! {
                            <div class="m-writer__field">
                                <label for="writer-tone">"语气"</label>
                                <select
                                    id="writer-tone"
                                    name="tone"
                                    data-testid="brief-tone"
                                    on:change=move |ev| fields.tone.set(event_target_value(&ev))
                                >
                                    <option value="" selected=true>"不限"</option>
                                    {tones
                                        .into_iter()
                                        .map(|tone| view! { <option value=tone.clone()>{tone.clone()}</option> })
                                        .collect_view()}
                                </select>
                            </div>
                        }
                    })}
            </div>

            <fieldset class="m-writer__field m-writer__lengths">
                <legend>"篇幅"</legend>
                {lengths
                    .into_iter()
                    .map(|length| {
                        let value = format!("{length:?}").to_lowercase();
                        view! {
                            <label class="m-writer__choice">
                                <input
                                    type="radio"
                                    name="length"
                                    value=value.clone()
                                    data-testid=format!("brief-length-{value}")
                                    prop:checked=move || fields.length.get() == length
                                    on:change=move |_| fields.length.set(length)
                                />
                                <span>{length.label()}</span>
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>

            <div class="m-writer__field">
                <label for="writer-keywords">"关键词" <span class="m-writer__optional">"（选填，用逗号分隔，最多 " {limits::KEYWORDS} " 个）"</span></label>
                <input
                    id="writer-keywords"
                    name="keywords"
                    type="text"
                    autocomplete="off"
                    placeholder="例如：绿茶，养生，办公室"
                    data-testid="brief-keywords"
                    aria-invalid=move || error_of("keywords")().is_some().to_string()
                    aria-describedby="writer-keywords-error"
                    prop:value=move || fields.keywords.get()
                    on:input=move |ev| fields.keywords.set(event_target_value(&ev))
                />
                <FieldError id="writer-keywords-error" message=Signal::derive(error_of("keywords")) />
            </div>

            <div class="m-writer__field">
                <label for="writer-notes">"补充说明" <span class="m-writer__optional">"（选填）"</span></label>
                <textarea
                    id="writer-notes"
                    name="notes"
                    rows="3"
                    placeholder="写给谁看、想强调什么、要避免什么……"
                    data-testid="brief-notes"
                    aria-invalid=move || error_of("notes")().is_some().to_string()
                    aria-describedby="writer-notes-error"
                    prop:value=move || fields.notes.get()
                    on:input=move |ev| fields.notes.set(event_target_value(&ev))
                ></textarea>
                <Count text=fields.notes max=limits::NOTES />
                <FieldError id="writer-notes-error" message=Signal::derive(error_of("notes")) />
            </div>

            {thinking
                .then(|| {
                    view! {
                        <label class="m-writer__choice m-writer__thinking">
                            <input
                                type="checkbox"
                                name="thinking"
                                data-testid="brief-thinking"
                                prop:checked=move || fields.thinking.get()
                                on:change=move |ev| fields.thinking.set(event_target_checked(&ev))
                            />
                            <span>"深度思考" <small>"（先想清楚再动笔，慢一些，可以看到思考过程）"</small></span>
                        </label>
                    }
                })}

            <Show when=move || fields.outline.with(Option::is_some)>
                <div class="m-writer__field m-writer__outline">
                    <label for="writer-outline">"大纲" <span class="m-writer__optional">"（可以直接修改：每个“## 小标题”或列表项是一节）"</span></label>
                    <textarea
                        id="writer-outline"
                        name="outline"
                        rows="10"
                        data-testid="brief-outline"
                        aria-invalid=move || error_of("outline")().is_some().to_string()
                        aria-describedby="writer-outline-error"
                        prop:value=move || fields.outline.get().unwrap_or_default()
                        on:input=move |ev| fields.outline.set(Some(event_target_value(&ev)))
                    ></textarea>
                    <OutlineCount outline=fields.outline />
                    <FieldError id="writer-outline-error" message=Signal::derive(error_of("outline")) />
                </div>
            </Show>

            <Quota work />

            <div class="m-writer__actions">
                <Show
                    when=move || logged_in.get()
                    fallback=|| {
                        view! {
                            <a class="m-writer__button m-writer__button--primary" href="#login" data-testid="writer-login">
                                "微信登录后开始写作"
                            </a>
                            <p class="m-writer__hint">"登录后才能生成文章；你填好的内容会保留。"</p>
                        }
                    }
                >
                    {move || {
                        let outlined = fields.outline.with(Option::is_some);
                        view! {
                            <button
                                type="submit"
                                class="m-writer__button m-writer__button--primary"
                                data-testid="brief-start"
                                disabled=move || busy.get()
                            >
                                {move || {
                                    work.pending
                                        .get()
                                        .unwrap_or(if outlined { "按大纲写作" } else { "开始写作" })
                                }}
                            </button>
                            <button
                                type="button"
                                class="m-writer__button"
                                data-testid="brief-outline-button"
                                disabled=move || busy.get()
                                on:click=move |_| draft_outline()
                            >
                                {move || {
                                    if drafting.get() {
                                        "正在生成大纲…"
                                    } else if outlined {
                                        "重新生成大纲"
                                    } else {
                                        "先生成大纲"
                                    }
                                }}
                            </button>
                            {outlined
                                .then(|| {
                                    view! {
                                        <button
                                            type="button"
                                            class="m-writer__button m-writer__button--quiet"
                                            disabled=move || busy.get()
                                            on:click=move |_| {
                                                fields.outline.set(None);
                                                write(false);
                                            }
                                        >
                                            "不用大纲，直接写"
                                        </button>
                                    }
                                })}
                        }
                    }}
                </Show>
            </div>
            <Show when=move || drafting.get()>
                <p class="m-writer__hint" role="status">"DeepSeek 正在列大纲，通常需要十几秒…"</p>
            </Show>
        </form>
    }
}

/// `12/100`, marked when over.
#[component]
fn Count(text: RwSignal<String>, max: usize) -> impl IntoView {
    let count = move || text.with(|t| t.trim().chars().count());
    view! {
        <span class="m-writer__count" data-over=move || (count() > max).to_string() aria-hidden="true">
            {count} "/" {max}
        </span>
    }
}

#[component]
fn OutlineCount(outline: RwSignal<Option<String>>) -> impl IntoView {
    let count = move || outline.with(|o| o.as_deref().map_or(0, |o| o.trim().chars().count()));
    view! {
        <span class="m-writer__count" data-over=move || (count() > limits::OUTLINE).to_string() aria-hidden="true">
            {count} "/" {limits::OUTLINE}
        </span>
    }
}

#[component]
fn FieldError(id: &'static str, message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <p id=id class="m-writer__field-error" role="alert" data-testid=format!("{id}")>
            {move || message.get()}
        </p>
    }
}

/// The visitor's limits, when known.
#[component]
fn Quota(work: Work) -> impl IntoView {
    move || {
        work.quota.get().map(|quota| {
            let left = quota.daily_limit.saturating_sub(quota.used_today);
            view! {
                <p class="m-writer__quota" data-testid="writer-quota">
                    {if left == 0 {
                        format!("今天的 {} 次生成已经用完了。", quota.daily_limit)
                    } else {
                        format!("今天还可以生成 {left} 次（每天 {} 次）。", quota.daily_limit)
                    }}
                    {(quota.running > 0)
                        .then(|| format!("正在生成 {} 篇，最多同时 {} 篇。", quota.running, quota.concurrent_limit))}
                </p>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_split_on_any_separator_once_each() {
        assert_eq!(
            split_keywords(" 绿茶，养生、办公室, 绿茶;  下午茶 "),
            ["绿茶", "养生", "办公室", "下午茶"]
        );
        assert!(split_keywords(" ，、 ").is_empty());
    }

    #[test]
    fn every_limit_has_its_words() {
        let ok = Brief {
            topic: "春天的茶".into(),
            kind: "博客".into(),
            ..Brief::default()
        };
        assert!(check(&ok).is_empty());
        let field = |brief: Brief| check(&brief).first().map(|(f, m)| (f.clone(), m.clone()));

        let (f, m) = field(Brief { topic: "  ".into(), ..ok.clone() }).unwrap();
        assert_eq!((f.as_str(), m.as_str()), ("topic", "请填写主题或标题。"));
        let (f, m) = field(Brief { topic: "字".repeat(limits::TOPIC + 1), ..ok.clone() }).unwrap();
        assert_eq!(f, "topic");
        assert!(m.contains("最多 100 个字，现在有 101 个字"), "{m}");
        let (f, _) = field(Brief {
            keywords: (0..=limits::KEYWORDS).map(|i| i.to_string()).collect(),
            ..ok.clone()
        })
        .unwrap();
        assert_eq!(f, "keywords");
        let (f, m) = field(Brief { keywords: vec!["词".repeat(21)], ..ok.clone() }).unwrap();
        assert_eq!(f, "keywords");
        assert!(m.contains("太长了"), "{m}");
        let (f, _) = field(Brief { notes: "注".repeat(limits::NOTES + 1), ..ok.clone() }).unwrap();
        assert_eq!(f, "notes");
        let (f, _) = field(Brief { outline: Some("  ".into()), ..ok.clone() }).unwrap();
        assert_eq!(f, "outline");
        let (f, _) = field(Brief { outline: Some("纲".repeat(limits::OUTLINE + 1)), ..ok }).unwrap();
        assert_eq!(f, "outline");
    }
}
