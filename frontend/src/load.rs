//! Data a page loads, as a [`LocalResource`] whose value type is erased.
//!
//! Every `LocalResource<T>` compiles Leptos's async machinery (the task that awaits the
//! fetch, stores the value and wakes the views) once per value type and fetch closure:
//! about two dozen copies in this app, a sizeable part of the WASM module. A [`Load<T>`]
//! keeps its value as an `Rc<dyn Any>` in the one resource type below, so that machinery
//! is compiled once; only the small typed layer (box the value, downcast it back) is
//! per type.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;

use leptos::prelude::*;

type Erased = Rc<dyn Any>;
type ErasedFuture = Pin<Box<dyn Future<Output = Erased>>>;

/// The one resource type all loads share.
fn erased(fetch: Rc<dyn Fn() -> ErasedFuture>) -> LocalResource<Erased> {
    LocalResource::new(move || fetch())
}

/// What a page loads: `None` while loading, like a `LocalResource`'s `get`.
pub struct Load<T> {
    resource: LocalResource<Erased>,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for Load<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Load<T> {}

impl<T: Clone + 'static> Load<T> {
    /// Starts loading with `fetch`, and again whenever a signal it reads changes.
    pub fn new<Fut>(fetch: impl Fn() -> Fut + 'static) -> Self
    where
        Fut: Future<Output = T> + 'static,
    {
        let fetch = move || -> ErasedFuture {
            let future = fetch();
            Box::pin(async move { Rc::new(future.await) as Erased })
        };
        Self { resource: erased(Rc::new(fetch)), _value: PhantomData }
    }

    /// The value once loaded (tracked, so a view re-renders when it arrives).
    pub fn get(&self) -> Option<T> {
        self.resource.get().map(|v| v.downcast_ref::<T>().expect("a Load holds values of its own type").clone())
    }

    /// Loads again.
    pub fn refetch(&self) {
        self.resource.refetch();
    }
}
