//! The "Confirm it's you" dialog: the password or an authenticator code,
//! sent to `two_factor::confirm_identity`; it answers the [`ConfirmGate`].

use super::ConfirmGate;
use crate::components::FieldError;
use leptos::prelude::*;

/// The "Confirm it's you" dialog of `gate`.
#[component]
pub fn ConfirmIdentityDialog(gate: ConfirmGate) -> impl IntoView {
    let submit = ServerAction::<crate::two_factor::ConfirmIdentity>::new();
    let value = submit.value();
    let error = Signal::derive(move || value.try_get().flatten().and_then(Result::err));
    let pending = submit.pending();
    Effect::new(move |_| {
        if matches!(value.try_get().flatten(), Some(Ok(()))) {
            value.set(None);
            gate.answer(true);
        }
    });
    let open = gate.open;
    let cancel = Callback::new(move |()| {
        value.set(None);
        gate.answer(false);
    });
    view! {
        <Show when=move || open.try_get().unwrap_or(false)>
            <dialog open class="confirm-identity" aria-modal="true" aria-labelledby="confirm-identity-title">
                <h2 id="confirm-identity-title">"Confirm it's you"</h2>
                <p>
                    "This changes how you or others sign in, so Roster asks who you are once more. Enter your \
                     password, or a code from your authenticator app."
                </p>
                <ActionForm action=submit>
                    <label>
                        "Password"
                        <input type="password" name="password" autocomplete="current-password" autofocus />
                    </label>
                    <label>
                        "Or a code from your authenticator app"
                        <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" />
                    </label>
                    <FieldError error=error />
                    <div class="dialog-actions">
                        <button type="button" on:click=move |_| cancel.run(())>"Cancel"</button>
                        <button type="submit" class="primary" disabled=move || pending.get()>
                            "Confirm"
                        </button>
                    </div>
                </ActionForm>
            </dialog>
        </Show>
    }
}
