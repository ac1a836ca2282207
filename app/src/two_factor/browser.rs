//! The browser's half of the passkey ceremonies: `app/js/passkeys.js` calls
//! `navigator.credentials` with the server's options and hands back
//! `credential.toJSON()`. Both travel as JSON text, so the WebAssembly holds
//! no WebAuthn types (webauthn-rs reads and writes that JSON on the server).
//! On the server these are never called (they answer "not supported").

use crate::error::AppError;

#[cfg(feature = "hydrate")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/js/passkeys.js")]
    extern "C" {
        #[wasm_bindgen(js_name = conditionalMediationAvailable)]
        pub async fn conditional_available() -> JsValue;
        #[wasm_bindgen(catch, js_name = passkeyCreate)]
        pub async fn create(options: &str) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch, js_name = passkeyGet)]
        pub async fn get(options: &str, autofill: bool) -> Result<JsValue, JsValue>;
    }
}

/// What to tell the person when the browser gave no passkey (`name`: the
/// DOMException's name); `None` when the request was aborted on purpose.
fn refusal(name: &str, creating: bool) -> Option<AppError> {
    let message = match name {
        "AbortError" => return None,
        "NotAllowedError" if creating => {
            "No passkey was made: it was cancelled, it timed out, or your device could not verify you \
             (a PIN, fingerprint or face is needed)."
        }
        "NotAllowedError" => {
            "No passkey was used: it was cancelled, it timed out, your device could not verify you, \
             or it holds no passkey for this account."
        }
        "InvalidStateError" if creating => "This device already holds a passkey for your account.",
        "SecurityError" => "Passkeys do not work at this address. Open Roster at its public address (https).",
        "NotSupportedError" | "TypeError" => "This browser does not support passkeys. Use a recent browser.",
        _ => "The passkey did not work. Try again.",
    };
    Some(AppError::Invalid(message.to_string()))
}

#[cfg(feature = "hydrate")]
fn answer(
    result: Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>,
    creating: bool,
) -> Result<Option<String>, AppError> {
    match result {
        Ok(json) => json.as_string().map(Some).ok_or_else(|| AppError::Invalid("The passkey did not work.".into())),
        Err(name) => match refusal(&name.as_string().unwrap_or_default(), creating) {
            None => Ok(None),
            Some(e) => Err(e),
        },
    }
}

/// Does the browser offer passkeys in the email field's autofill?
pub async fn autofill_available() -> bool {
    #[cfg(feature = "hydrate")]
    return js::conditional_available().await.as_bool().unwrap_or(false);
    #[cfg(not(feature = "hydrate"))]
    false
}

/// Make a passkey with these options (`CreationChallengeResponse` JSON); the
/// browser's answer as JSON, or `None` when aborted.
pub async fn create(options: &str) -> Result<Option<String>, AppError> {
    #[cfg(feature = "hydrate")]
    return answer(js::create(options).await, true);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = options;
        Err(refusal("NotSupportedError", true).unwrap_or(AppError::Internal))
    }
}

/// Use a passkey with these options (`RequestChallengeResponse` JSON), from
/// the autofill (`autofill`) or at once; the answer as JSON, or `None` when aborted.
pub async fn get(options: &str, autofill: bool) -> Result<Option<String>, AppError> {
    #[cfg(feature = "hydrate")]
    return answer(js::get(options, autofill).await, false);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (options, autofill);
        Err(refusal("NotSupportedError", false).unwrap_or(AppError::Internal))
    }
}
