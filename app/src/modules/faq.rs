//! Questions and answers; a question opens its answer (one at a time).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::theme::{
    settings::{check_each, require_text, Invalid, Settings},
    ModuleSpec, ModuleType, SectionId, Zone,
};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaqSettings {
    pub heading: String,
    pub items: Vec<Question>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Question {
    pub question: String,
    pub answer: String,
}

impl Settings for FaqSettings {
    fn check(&self) -> Result<(), Invalid> {
        check_each("items", &self.items, |item| {
            require_text("question", &item.question)?;
            require_text("answer", &item.answer)
        })
    }
}

/// The module: any number per page, each with its own ids.
pub struct Faq;

impl ModuleType for Faq {
    type Settings = FaqSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("faq", &[Zone::Page]);

    fn view(settings: FaqSettings, _blocks: AnyView) -> impl IntoView + 'static {
        // Ids tie each question to its answer for screen readers; the section id
        // keeps them unique when a page holds several FAQ modules.
        let id_base = use_context::<SectionId>().map(|s| s.0).unwrap_or_default();
        view! { <FaqList settings id_base /> }
    }

    fn example() -> FaqSettings {
        FaqSettings {
            heading: "常见问题".into(),
            items: vec![Question {
                question: "需要付费吗？".into(),
                answer: "现在免费，用微信扫码登录就能开始写。".into(),
            }],
        }
    }
}

/// The questions open and close in the browser: an island.
#[island]
fn FaqList(settings: FaqSettings, id_base: String) -> impl IntoView {
    // Which answer is open; opening one closes the other.
    let open = RwSignal::new(None::<usize>);
    view! {
        <div class="m-faq">
            {(!settings.heading.is_empty()).then(|| view! { <h2 class="m-faq__heading">{settings.heading}</h2> })}
            <dl class="m-faq__items">
                {settings
                    .items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| {
                        let answer_id = format!("{id_base}-answer-{index}");
                        let is_open = move || open.get() == Some(index);
                        view! {
                            <dt>
                                <button
                                    type="button"
                                    class="m-faq__question"
                                    aria-expanded=move || is_open().to_string()
                                    aria-controls=answer_id.clone()
                                    on:click=move |_| {
                                        open.update(|o| *o = if *o == Some(index) { None } else { Some(index) })
                                    }
                                >
                                    {item.question}
                                </button>
                            </dt>
                            <dd class="m-faq__answer" id=answer_id hidden=move || !is_open()>
                                {item.answer}
                            </dd>
                        }
                    })
                    .collect_view()}
            </dl>
        </div>
    }
}
