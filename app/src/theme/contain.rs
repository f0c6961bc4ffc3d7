//! Keeps a module's panic inside its frame while the page is written out.
//!
//! Leptos builds a module's view first and writes its HTML later: the
//! closures in a view (`move || …`) run while the HTML is written, and the
//! parts that wait for data (`Suspense`) are written later still, as the
//! response streams. A panic in any of those steps would otherwise fail the
//! whole response. [`Contained`] wraps a module's view and runs each step
//! under `catch_unwind` (the server builds with `panic = "unwind"`): if one
//! panics, the module's place gets the frame's note, the panic is logged,
//! and the rest of the page renders.
//!
//! A module's own code runs in three places, all covered:
//! 1. building the view (the module's `view` fn): caught by `ModuleFrame`;
//! 2. writing the HTML (closures, `Suspense` children): caught here;
//! 3. loading data (a `Resource`'s future, polled while the response
//!    streams): caught here too; a load that never finishes is given up
//!    after [`stream::DATA_DEADLINE`], since the rest of the page waits
//!    for it. Loads should return `Err` instead, shown as the same note.
//!
//! Tests: `modules::test_probe` (each way to fail, unit) and
//! `server/tests/pages.rs` (a whole page).

use std::panic::{catch_unwind, AssertUnwindSafe};

use leptos::{
    prelude::*,
    tachys::{
        html::attribute::any_attribute::AnyAttribute,
        hydration::Cursor,
        ssr::StreamBuilder,
        view::{any_view::AnyViewState, Position, PositionState},
    },
};

use super::render::{failed_note, Frame};

/// A module's view that cannot fail the page: see the module docs.
pub(crate) struct Contained {
    view: AnyView,
    frame: Frame,
    /// Why walking the view for its data (`dry_resolve`) panicked.
    panicked: Option<String>,
}

impl Contained {
    pub fn new(view: AnyView, frame: Frame) -> Self {
        Self {
            view,
            frame,
            panicked: None,
        }
    }

    /// Writes the frame's note in place of the module.
    fn fail(frame: &Frame, why: &str, buf: &mut String, position: &mut Position) {
        frame.report(why);
        buf.push_str(&failed_note().to_html());
        *position = Position::NextChild;
    }
}

/// The text of a panic, for the log.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        format!("panicked: {text}")
    } else if let Some(text) = payload.downcast_ref::<String>() {
        format!("panicked: {text}")
    } else {
        "panicked".into()
    }
}

/// Runs `f`, catching a panic. Leptos makes a component's reactive owner
/// current without a guard, so after a panic the broken module's owner
/// would stay current and the next module would be built inside it (its
/// loads then wait on the broken module's): the owner is put back.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let owner = Owner::current();
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        restore(owner);
        panic_message(&*panic)
    })
}

fn restore(owner: Option<Owner>) {
    match owner {
        Some(owner) => owner.set(),
        None => {
            if let Some(current) = Owner::current() {
                current.unset();
            }
        }
    }
}

/// A future whose polls are run with [`catch`].
#[cfg(feature = "ssr")]
struct Caught<F: ?Sized>(std::pin::Pin<Box<F>>);

#[cfg(feature = "ssr")]
impl<F: std::future::Future + ?Sized> std::future::Future for Caught<F> {
    type Output = Result<F::Output, String>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match catch(|| self.0.as_mut().poll(cx)) {
            Ok(std::task::Poll::Ready(value)) => std::task::Poll::Ready(Ok(value)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(why) => std::task::Poll::Ready(Err(why)),
        }
    }
}

impl Render for Contained {
    type State = AnyViewState;

    // Only the server renders the frames (the browser hydrates islands).
    fn build(self) -> Self::State {
        self.view.build()
    }

    fn rebuild(self, state: &mut Self::State) {
        self.view.rebuild(state)
    }
}

leptos::tachys::no_attrs!(Contained);

impl RenderHtml for Contained {
    type AsyncOutput = Self;
    type Owned = Self;

    const MIN_LENGTH: usize = 0;

    fn dry_resolve(&mut self) {
        if self.panicked.is_none() {
            let view = &mut self.view;
            if let Err(why) = catch(|| view.dry_resolve()) {
                self.panicked = Some(why);
            }
        }
    }

    async fn resolve(self) -> Self::AsyncOutput {
        let Contained {
            view,
            frame,
            panicked,
        } = self;
        if panicked.is_some() {
            return Contained {
                view,
                frame,
                panicked,
            };
        }
        #[cfg(feature = "ssr")]
        match Caught(Box::pin(view.resolve())).await {
            Ok(view) => Contained::new(view, frame),
            Err(why) => Contained {
                view: ().into_any(),
                frame,
                panicked: Some(why),
            },
        }
        #[cfg(not(feature = "ssr"))]
        Contained::new(view.resolve().await, frame)
    }

    fn to_html_with_buf(
        self,
        buf: &mut String,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) {
        let Contained {
            view,
            frame,
            panicked,
        } = self;
        if let Some(why) = panicked {
            return Self::fail(&frame, &why, buf, position);
        }
        let mut html = String::new();
        let mut at = *position;
        let written =
            catch(|| view.to_html_with_buf(&mut html, &mut at, escape, mark_branches, extra_attrs));
        match written {
            Ok(()) => {
                buf.push_str(&html);
                *position = at;
            }
            Err(why) => Self::fail(&frame, &why, buf, position),
        }
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
        #[cfg(feature = "ssr")]
        stream::write::<OUT_OF_ORDER>(self, buf, position, escape, mark_branches, extra_attrs);
        #[cfg(not(feature = "ssr"))]
        buf.with_buf(|buf| {
            self.to_html_with_buf(buf, position, escape, mark_branches, extra_attrs)
        });
    }

    fn hydrate<const FROM_SERVER: bool>(
        self,
        cursor: &Cursor,
        position: &PositionState,
    ) -> Self::State {
        self.view.hydrate::<FROM_SERVER>(cursor, position)
    }

    fn into_owned(self) -> Self::Owned {
        self
    }
}

/// The streamed response: the parts of a module that wait for data.
#[cfg(feature = "ssr")]
mod stream {
    use std::{collections::VecDeque, future::Future, pin::Pin, time::Duration};

    use leptos::tachys::ssr::StreamChunk;

    use super::*;

    /// How long a module may wait for its data before it is shown as
    /// failed: the parts after it are written only once it has its data,
    /// so a load that hangs would hold the rest of the page.
    pub const DATA_DEADLINE: Duration = Duration::from_secs(10);

    pub fn write<const OUT_OF_ORDER: bool>(
        contained: Contained,
        buf: &mut StreamBuilder,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) {
        let Contained {
            view,
            frame,
            panicked,
        } = contained;
        if let Some(why) = panicked {
            return buf.with_buf(|buf| Contained::fail(&frame, &why, buf, position));
        }

        // Each module numbers the parts that wait for data (`Suspense`)
        // below an id of its own. The error boundary inside starts from the
        // id it is given and does not move the page's numbering on, so two
        // modules would both number from the same place and one module's
        // data would land in the other's place.
        buf.next_id();
        let mut inner = StreamBuilder::new(buf.child_id());
        let mut at = *position;
        let written = catch(|| {
            view.to_html_async_with_buf::<OUT_OF_ORDER>(
                &mut inner,
                &mut at,
                escape,
                mark_branches,
                extra_attrs,
            )
        });
        if let Err(why) = written {
            return buf.with_buf(|buf| Contained::fail(&frame, &why, buf, position));
        }
        *position = at;

        let chunks = inner.take_chunks();
        if chunks.iter().all(|c| matches!(c, StreamChunk::Sync(_))) {
            for chunk in chunks {
                if let StreamChunk::Sync(html) = chunk {
                    buf.push_sync(&html);
                }
            }
            return;
        }
        // Some of it waits for data: wait for all of it here, so that a
        // panic in any part replaces the whole module.
        buf.push_async(async move {
            let settled = tokio::time::timeout(DATA_DEADLINE, settle(chunks)).await;
            let why = match settled {
                Ok(Ok(chunks)) => return chunks,
                Ok(Err(why)) => why,
                Err(_) => format!(
                    "its data did not arrive within {} s",
                    DATA_DEADLINE.as_secs()
                ),
            };
            frame.report(&why);
            VecDeque::from([StreamChunk::Sync(failed_note().to_html())])
        });
    }

    type Settled = Pin<Box<dyn Future<Output = Result<VecDeque<StreamChunk>, String>> + Send>>;

    /// Waits for every part that waits for data, catching a panic in any.
    fn settle(chunks: VecDeque<StreamChunk>) -> Settled {
        Box::pin(async move {
            let mut settled = VecDeque::with_capacity(chunks.len());
            for chunk in chunks {
                match chunk {
                    StreamChunk::Sync(html) => settled.push_back(StreamChunk::Sync(html)),
                    StreamChunk::Async { chunks } => {
                        let inner = Caught(chunks).await?;
                        settled.extend(settle(inner).await?);
                    }
                    StreamChunk::OutOfOrder { chunks } => {
                        let ready = Caught(chunks).await?;
                        settled.push_back(StreamChunk::OutOfOrder {
                            chunks: Box::pin(async move { ready }),
                        });
                    }
                }
            }
            Ok(settled)
        })
    }
}
