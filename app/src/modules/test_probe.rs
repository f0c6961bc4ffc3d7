//! A module only the tests can place (feature `test-modules`, see
//! `app/Cargo.toml`). It is the README's recipe "写一个新模块" followed for a
//! tiny module — settings, schema, a view that loads its text through a
//! server function into a `Resource` — and the module the isolation tests
//! break on purpose, at each point where a module's code runs.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::theme::{
    settings::{require_text, Invalid, Settings},
    ModuleSpec, ModuleType, Zone,
};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestProbeSettings {
    /// Who is greeted.
    pub name: String,
    /// How it breaks, if it does.
    pub fault: Fault,
}

/// Where the probe breaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    #[default]
    None,
    /// Its `view` fn panics.
    PanicWhileBuilding,
    /// A closure in its view panics while the HTML is written.
    PanicWhileWriting,
    /// Its data fails to load: the server function returns `Err`.
    FailToLoad,
    /// The server function panics.
    PanicWhileLoading,
    /// The view of the loaded data panics.
    PanicAfterLoading,
    /// The server function never answers.
    NeverLoads,
}

impl Settings for TestProbeSettings {
    fn check(&self) -> Result<(), Invalid> {
        require_text("name", &self.name)
    }
}

/// The module: any number per page.
pub struct TestProbe;

impl ModuleType for TestProbe {
    type Settings = TestProbeSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("test_probe", &[Zone::Page]);

    fn view(settings: TestProbeSettings, _blocks: AnyView) -> impl IntoView + 'static {
        let TestProbeSettings { name, fault } = settings;
        if fault == Fault::PanicWhileBuilding {
            panic!("test_probe panics while building its view");
        }
        // Data comes through a Resource holding a Result: a failed load is
        // an `Err`, which the module's frame shows as its note.
        let greeting = Resource::new(move || (name.clone(), fault), |(name, fault)| greeting(name, fault));
        view! {
            <div class="m-test-probe">
                {move || {
                    if fault == Fault::PanicWhileWriting {
                        panic!("test_probe panics while its HTML is written");
                    }
                }}
                <Suspense fallback=|| view! { <p>"加载中…"</p> }>
                    {move || Suspend::new(async move {
                        let text = greeting.await?;
                        if fault == Fault::PanicAfterLoading {
                            panic!("test_probe panics after its data arrived");
                        }
                        Ok::<_, ServerFnError>(view! { <p class="m-test-probe__greeting">{text}</p> })
                    })}
                </Suspense>
            </div>
        }
    }

    fn example() -> TestProbeSettings {
        TestProbeSettings {
            name: "测试".into(),
            fault: Fault::None,
        }
    }
}

/// The probe's data, from the server (as a module's calls are).
#[server(endpoint = "test_probe/greeting")]
pub async fn greeting(name: String, fault: Fault) -> Result<String, ServerFnError> {
    match fault {
        Fault::FailToLoad => Err(ServerFnError::new("the greeting could not be loaded")),
        Fault::PanicWhileLoading => panic!("test_probe panics while loading its data"),
        Fault::NeverLoads => std::future::pending().await,
        _ => Ok(format!("你好，{name}")),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::theme::{stream_html, Module, Section, Sections};

    /// A page of three sections, the probe in the middle, streamed as the
    /// server does; the HTML and the log.
    async fn page_with(fault: Fault) -> (String, String) {
        let log = Log::default();
        let _guard = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(log.clone())
                .with_ansi(false)
                .finish(),
        );
        let sections = [("before", Fault::None), ("broken", fault), ("after", Fault::None)]
            .into_iter()
            .enumerate()
            .map(|(index, (id, fault))| Section {
                id: id.into(),
                module: Module::TestProbe(TestProbeSettings {
                    name: id.into(),
                    fault,
                }),
                blocks: Vec::new(),
                place: format!("pages/probe.json: sections[{index}]"),
            })
            .collect::<Vec<_>>();
        let html = stream_html(|| view! { <Sections sections /> }.into_any()).await;
        (html, log.text())
    }

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl Log {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    impl std::io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
        type Writer = Log;
        fn make_writer(&'a self) -> Log {
            self.clone()
        }
    }

    #[tokio::test]
    async fn the_probe_loads_its_greeting() {
        let (html, log) = page_with(Fault::None).await;
        for name in ["before", "broken", "after"] {
            assert!(html.contains(&format!("你好，{name}")), "{html}");
        }
        assert!(!html.contains("module-failed"), "{html}");
        assert!(!log.contains("module failed"), "{log}");
    }

    // Time is paused: waiting for the data deadline takes no time.
    #[tokio::test(start_paused = true)]
    async fn every_fault_stays_in_its_frame_and_is_logged_with_its_place() {
        for (fault, why) in [
            (Fault::PanicWhileBuilding, "panicked: test_probe panics while building its view"),
            (Fault::PanicWhileWriting, "panicked: test_probe panics while its HTML is written"),
            (Fault::FailToLoad, "the greeting could not be loaded"),
            (Fault::PanicWhileLoading, "panicked: test_probe panics while loading its data"),
            (Fault::PanicAfterLoading, "panicked: test_probe panics after its data arrived"),
            (Fault::NeverLoads, "its data did not arrive within 10 s"),
        ] {
            let (html, log) = page_with(fault).await;
            // The note sits in the broken module's frame, between its
            // neighbours, whose data arrives (streamed out of order).
            let at = |text: &str| html.find(text).unwrap_or_else(|| panic!("{fault:?}: no {text}: {html}"));
            let note = at("module-failed");
            assert!(at("section-broken") < note && note < at("section-after"), "{fault:?}: {html}");
            assert_eq!(html.matches("module-failed").count(), 1, "{fault:?}: {html}");
            at("你好，before");
            at("你好，after");
            assert!(!html.contains("你好，broken"), "{fault:?}: {html}");
            assert!(log.contains("module failed to render"), "{fault:?}: {log}");
            assert!(log.contains(r#"module="test_probe""#), "{fault:?}: {log}");
            assert!(log.contains(r#"section="broken""#), "{fault:?}: {log}");
            assert!(log.contains(r#"place="pages/probe.json: sections[1]""#), "{fault:?}: {log}");
            assert!(log.contains(why), "{fault:?}: {log}");
            assert_eq!(log.matches("module failed").count(), 1, "{fault:?}: {log}");
        }
    }
}
