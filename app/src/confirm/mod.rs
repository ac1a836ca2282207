//! "Confirm it's you". What changes how someone signs in, and the most
//! powerful administrator actions, need a recent sign-in; when the server
//! answers [`AppError::ConfirmIdentity`], the page asks for the password (or a
//! code from the authenticator app) in a dialog, then carries on with what the
//! person was doing: the call is made again, once, after the confirmation.
//!
//! [`App`](crate::App) provides one [`ConfirmGate`] and renders its dialog
//! ([`dialog::ConfirmIdentityDialog`]); `components::call_action` and the
//! passkey ceremony go through [`confirmed`].

pub mod dialog;

use crate::error::AppError;
use futures_channel::oneshot;
use leptos::prelude::*;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The dialog's state, shared by the dialog and every call that may need it.
/// `Copy` (its parts live in the page's reactive arena): closures that hold
/// it have nothing to drop, which matters for local actions, whose closures
/// must be dropped on the thread that made them.
#[derive(Clone, Copy)]
pub struct ConfirmGate {
    open: RwSignal<bool>,
    /// The call waiting for the person's answer (true: confirmed).
    waiting: StoredValue<Arc<Mutex<Option<oneshot::Sender<bool>>>>>,
}

impl ConfirmGate {
    /// Make the page's gate and provide it to everything below.
    pub fn provide() -> Self {
        let gate = Self { open: RwSignal::new(false), waiting: StoredValue::new(Arc::new(Mutex::new(None))) };
        provide_context(gate);
        gate
    }

    /// Open the dialog and wait for the person: true once they confirmed,
    /// false when they cancelled (or another call asked meanwhile).
    async fn ask(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        let Some(waiting) = self.waiting.try_get_value() else { return false };
        if let Ok(mut waiting) = waiting.lock() {
            *waiting = Some(tx);
        }
        self.open.set(true);
        rx.await.unwrap_or(false)
    }

    fn answer(&self, confirmed: bool) {
        self.open.set(false);
        let Some(waiting) = self.waiting.try_get_value() else { return };
        if let Some(tx) = waiting.lock().ok().and_then(|mut w| w.take()) {
            let _ = tx.send(confirmed);
        }
    }
}

/// The page's gate, if the page has one.
pub fn use_gate() -> Option<ConfirmGate> {
    use_context::<ConfirmGate>()
}

/// Run `call`; when the server asks for a fresh sign-in, ask the person to
/// confirm and, once they have, run it again.
pub async fn confirmed<T, Fut>(gate: Option<ConfirmGate>, call: impl Fn() -> Fut) -> Result<T, AppError>
where
    Fut: Future<Output = Result<T, AppError>>,
{
    match call().await {
        Err(AppError::ConfirmIdentity) => match gate {
            Some(gate) if gate.ask().await => call().await,
            _ => Err(AppError::ConfirmIdentity),
        },
        done => done,
    }
}
