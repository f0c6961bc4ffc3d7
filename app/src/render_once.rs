//! The reactive part of an island (`move || …`), built once when the server
//! renders the page.
//!
//! Leptos calls a view's closure each time it walks the view: to find the
//! data the page waits for (`dry_resolve`: the page does it, and again each
//! `Suspense` around the closure) and to write the HTML. Each call builds
//! the closure's view anew, and on the server nothing changes between those
//! walks. Measured with callgrind (bench/README.md, issue 14): once a page's
//! data came without waiting, `/write` built its brief form three times per
//! page and `/articles` its 50 rows three times.
//!
//! [`once`] keeps the view the first call built and writes that one. For
//! closures that read signals only (set before the page is written, as an
//! island's props are), not resources: a closure that shows "loading" until
//! a resource arrives must be called again, and stays a plain closure. In
//! the browser [`once`] gives the closure back unchanged: there it runs again
//! whenever its signals change.

#[cfg(feature = "ssr")]
pub use server::once;

/// In the browser: the closure itself, reactive as ever.
#[cfg(not(feature = "ssr"))]
pub fn once<F, V>(view: F) -> F
where
    F: Fn() -> V + Send + Sync + 'static,
{
    view
}

#[cfg(feature = "ssr")]
mod server {
    use leptos::tachys::{
        html::attribute::{any_attribute::AnyAttribute, Attribute},
        hydration::Cursor,
        ssr::StreamBuilder,
        view::{add_attr::AddAnyAttr, Position, PositionState, Render, RenderHtml},
    };

    /// On the server: the closure's view, built by the first walk over it.
    pub fn once<F, V>(view: F) -> Once<F, V>
    where
        F: Fn() -> V + Send + Sync + 'static,
    {
        Once {
            make: view,
            made: None,
        }
    }

    pub struct Once<F, V> {
        make: F,
        made: Option<V>,
    }

    impl<F: Fn() -> V, V> Once<F, V> {
        fn view(self) -> V {
            self.made.unwrap_or_else(|| (self.make)())
        }
    }

    impl<F: Fn() -> V, V: Render> Render for Once<F, V> {
        type State = V::State;

        fn build(self) -> Self::State {
            self.view().build()
        }

        fn rebuild(self, state: &mut Self::State) {
            self.view().rebuild(state)
        }
    }

    impl<F: Fn() -> V + Send, V: RenderHtml> AddAnyAttr for Once<F, V> {
        type Output<SomeNewAttr: Attribute> = V::Output<SomeNewAttr>;

        fn add_any_attr<NewAttr: Attribute>(self, attr: NewAttr) -> Self::Output<NewAttr>
        where
            Self::Output<NewAttr>: RenderHtml,
        {
            self.view().add_any_attr(attr)
        }
    }

    impl<F: Fn() -> V + Send, V: RenderHtml> RenderHtml for Once<F, V> {
        type AsyncOutput = V::AsyncOutput;
        type Owned = V::Owned;

        const MIN_LENGTH: usize = V::MIN_LENGTH;

        fn dry_resolve(&mut self) {
            let make = &self.make;
            self.made.get_or_insert_with(make).dry_resolve();
        }

        async fn resolve(self) -> Self::AsyncOutput {
            self.view().resolve().await
        }

        fn html_len(&self) -> usize {
            self.made
                .as_ref()
                .map_or(V::MIN_LENGTH, RenderHtml::html_len)
        }

        fn to_html_with_buf(
            self,
            buf: &mut String,
            position: &mut Position,
            escape: bool,
            mark_branches: bool,
            extra_attrs: Vec<AnyAttribute>,
        ) {
            self.view()
                .to_html_with_buf(buf, position, escape, mark_branches, extra_attrs)
        }

        fn to_html_async_with_buf<const OUT_OF_ORDER: bool>(
            self,
            buf: &mut StreamBuilder,
            position: &mut Position,
            escape: bool,
            mark_branches: bool,
            extra_attrs: Vec<AnyAttribute>,
        ) where
            Self: Sized,
        {
            self.view().to_html_async_with_buf::<OUT_OF_ORDER>(
                buf,
                position,
                escape,
                mark_branches,
                extra_attrs,
            )
        }

        fn hydrate<const FROM_SERVER: bool>(
            self,
            cursor: &Cursor,
            position: &PositionState,
        ) -> Self::State {
            self.view().hydrate::<FROM_SERVER>(cursor, position)
        }

        fn into_owned(self) -> Self::Owned {
            self.view().into_owned()
        }
    }

    #[cfg(test)]
    mod tests {
        use std::sync::{
            atomic::{AtomicUsize, Ordering},
            Arc,
        };

        use leptos::prelude::*;

        use super::*;

        /// Walked for its data twice and written once, as a page inside a
        /// `Suspense` is: one build, the same HTML as the plain closure.
        #[test]
        fn the_view_is_built_once_and_written_as_the_closure_would() {
            let builds = Arc::new(AtomicUsize::new(0));
            let counted = builds.clone();
            let make = move || {
                counted.fetch_add(1, Ordering::Relaxed);
                view! { <ul><li>"春茶"</li><li>{"<b>"}</li></ul> }
            };
            let plain = make.clone();
            let mut view = once(make);
            view.dry_resolve();
            view.dry_resolve();
            let html = view.to_html();
            assert_eq!(builds.load(Ordering::Relaxed), 1);

            let mut plain = plain;
            RenderHtml::dry_resolve(&mut plain);
            RenderHtml::dry_resolve(&mut plain);
            assert_eq!(html, RenderHtml::to_html(plain));
            assert_eq!(
                builds.load(Ordering::Relaxed),
                4,
                "the closure: three builds"
            );
            assert!(html.contains("<li>&lt;b&gt;</li>"), "{html}");
        }
    }
}
