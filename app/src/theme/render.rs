//! Turns sections into views, each in a frame that contains its failure.

use std::sync::Arc;

use leptos::prelude::*;

use super::{
    contain::{catch, Contained},
    Section,
};

/// Renders sections in their file's order. The sections are the loaded
/// theme's, shared: a render copies only the settings each module's view
/// takes.
#[component]
pub fn Sections(#[prop(into)] sections: Arc<[Section]>) -> AnyView {
    sections
        .iter()
        .map(render_section)
        .collect_view()
        .into_any()
}

fn render_section(section: &Section) -> AnyView {
    let Section {
        id,
        module,
        blocks,
        place,
    } = section;
    let name = module.name();
    let blocks = blocks.iter().map(render_section).collect_view().into_any();
    let module = module.clone();
    view! { <ModuleFrame name id=id.clone() place=place.clone()>{module.render(blocks)}</ModuleFrame> }
        .into_any()
}

/// The id of the section being rendered, for modules that need unique DOM ids.
#[derive(Clone, Debug)]
pub struct SectionId(pub String);

/// What a module shows in its place when it fails.
pub(crate) fn failed_note() -> impl IntoView {
    view! { <p class="module-failed" role="note">"这部分内容暂时无法显示，请稍后刷新页面。"</p> }
}

/// Wraps one module: marks it in the DOM (`data-module`, `id`) and, should the
/// module fail — an `Err` in its view, or a panic while it is built, written
/// out or waiting for data — shows a small note in its place and logs why
/// with its place in the theme, so the rest of the page still renders.
#[component]
pub fn ModuleFrame(
    name: &'static str,
    id: String,
    /// Where the section is placed (file and position), for the log.
    #[prop(optional)]
    place: String,
    children: Children,
) -> impl IntoView {
    provide_context(SectionId(id.clone()));
    let frame = Frame {
        module: name,
        section: id.clone(),
        place,
    };
    let fallback = {
        let frame = frame.clone();
        move |errors: ArcRwSignal<Errors>| {
            for (_, error) in errors.get_untracked().iter() {
                frame.report(&error.to_string());
            }
            failed_note()
        }
    };
    // The module's view is built inside the error boundary (its `Suspense`s
    // must find the boundary to report a failed load to it).
    let build = {
        let frame = frame.clone();
        move || match catch(children) {
            Ok(module) => module.into_any(),
            Err(why) => {
                frame.report(&why);
                failed_note().into_any()
            }
        }
    };
    let content = Contained::new(
        view! { <ErrorBoundary fallback>{build()}</ErrorBoundary> }.into_any(),
        frame,
    );
    view! {
        <div class="module" data-module=name id=format!("section-{id}")>
            {content}
        </div>
    }
}

/// A module instance, as the log names it.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    module: &'static str,
    section: String,
    place: String,
}

impl Frame {
    /// Logs why the module shows the note instead of itself.
    pub fn report(&self, error: &str) {
        let Frame {
            module,
            section,
            place,
        } = self;
        #[cfg(feature = "ssr")]
        tracing::error!(module, section, place, error, "module failed to render");
        #[cfg(not(feature = "ssr"))]
        leptos::logging::error!(
            "module {module} (section {section}, {place}) failed to render: {error}"
        );
    }
}

/// Streams a view to HTML as the server does (out of order, waiting for
/// data), with a reactive owner and an executor for its loads.
#[cfg(all(test, feature = "ssr"))]
pub(crate) async fn stream_html(view: impl FnOnce() -> AnyView) -> String {
    use futures_util::StreamExt;
    let _ = any_spawner::Executor::init_tokio();
    let owner = Owner::new_root(Some(std::sync::Arc::new(
        hydration_context::SsrSharedContext::new(),
    )));
    let stream = owner.with(|| view().to_html_stream_out_of_order());
    let html = stream.collect::<Vec<String>>().await.concat();
    drop(owner);
    html
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[derive(Debug, Clone, thiserror::Error)]
    #[error("the data source is down")]
    struct Down;

    fn html(view: impl FnOnce() -> AnyView) -> String {
        let owner = Owner::new();
        owner.with(|| view().to_html())
    }

    #[test]
    fn a_failing_module_becomes_a_note_and_its_neighbours_render() {
        let page = html(|| {
            view! {
                <ModuleFrame name="hero" id="first".into()>"before"</ModuleFrame>
                <ModuleFrame name="broken" id="second".into()>{Err::<String, _>(Down)}</ModuleFrame>
                <ModuleFrame name="faq" id="third".into()>"after"</ModuleFrame>
            }
            .into_any()
        });
        assert!(page.contains("before"), "{page}");
        assert!(page.contains("after"), "{page}");
        assert!(page.contains("这部分内容暂时无法显示"), "{page}");
        let note = page.find("module-failed").unwrap();
        assert!(page.find("before").unwrap() < note && note < page.find("after").unwrap());
    }

    #[test]
    fn a_frame_marks_its_module_in_the_dom() {
        let page = html(|| {
            view! { <ModuleFrame name="hero" id="hero".into()>"x"</ModuleFrame> }.into_any()
        });
        assert!(page.contains(r#"data-module="hero""#), "{page}");
        assert!(page.contains(r#"id="section-hero""#), "{page}");
        assert!(!page.contains("module-failed"), "{page}");
    }
}
