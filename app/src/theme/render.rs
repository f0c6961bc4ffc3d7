//! Turns sections into views, each in a frame that contains its failure.

use leptos::prelude::*;

use super::Section;

/// Renders sections in their file's order.
#[component]
pub fn Sections(sections: Vec<Section>) -> AnyView {
    sections
        .into_iter()
        .map(render_section)
        .collect_view()
        .into_any()
}

fn render_section(section: Section) -> AnyView {
    let Section { id, module, blocks } = section;
    let name = module.name();
    let blocks = blocks
        .into_iter()
        .map(render_section)
        .collect_view()
        .into_any();
    view! { <ModuleFrame name id>{module.render(blocks)}</ModuleFrame> }.into_any()
}

/// The id of the section being rendered, for modules that need unique DOM ids.
#[derive(Clone, Debug)]
pub struct SectionId(pub String);

/// Wraps one module: marks it in the DOM (`data-module`, `id`) and, should the
/// module fail, shows a small note in its place and logs why, so the rest of
/// the page still renders.
#[component]
pub fn ModuleFrame(name: &'static str, id: String, children: Children) -> impl IntoView {
    provide_context(SectionId(id.clone()));
    let section_id = id.clone();
    let fallback = move |errors: ArcRwSignal<Errors>| {
        for (_, error) in errors.get_untracked().iter() {
            report_failure(name, &section_id, &error.to_string());
        }
        view! { <p class="module-failed" role="note">"这部分内容暂时无法显示，请稍后刷新页面。"</p> }
    };
    view! {
        <div class="module" data-module=name id=format!("section-{id}")>
            <ErrorBoundary fallback>{children()}</ErrorBoundary>
        </div>
    }
}

fn report_failure(module: &str, section: &str, error: &str) {
    #[cfg(feature = "ssr")]
    tracing::error!(module, section, error, "module failed to render");
    #[cfg(not(feature = "ssr"))]
    leptos::logging::error!("module {module} (section {section}) failed to render: {error}");
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
