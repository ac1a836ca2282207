// The browser's half of Roster's passkey ceremonies (app/src/two_factor/browser.rs
// calls these). Options arrive as the JSON webauthn-rs made on the server
// ({"publicKey": …}); answers go back as credential.toJSON(), as JSON text.
// A failure is thrown as the DOMException's name ("NotAllowedError", …).

let conditional = null; // { controller, done } of the pending autofill request

function failure(e) {
  return (e && e.name) || "Error";
}

/** Can this browser do passkeys the way Roster asks (JSON options)? */
export function passkeysSupported() {
  return typeof PublicKeyCredential !== "undefined"
    && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function"
    && typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
}

/** Does the browser offer passkeys in the email field's autofill? */
export async function conditionalMediationAvailable() {
  try {
    return passkeysSupported()
      && typeof PublicKeyCredential.isConditionalMediationAvailable === "function"
      && await PublicKeyCredential.isConditionalMediationAvailable();
  } catch (_) {
    return false;
  }
}

/** Stop the autofill request, if any, and wait until the browser has let it go. */
async function stopConditional() {
  const pending = conditional;
  conditional = null;
  if (pending) {
    pending.controller.abort();
    await pending.done.catch(() => {});
  }
}

/** navigator.credentials.create with the server's options; the new credential as JSON. */
export async function passkeyCreate(optionsJson) {
  if (!passkeysSupported()) throw "NotSupportedError";
  try {
    await stopConditional();
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(JSON.parse(optionsJson).publicKey);
    const credential = await navigator.credentials.create({ publicKey });
    return JSON.stringify(credential.toJSON());
  } catch (e) {
    throw failure(e);
  }
}

/**
 * navigator.credentials.get with the server's options; the assertion as JSON.
 * `autofill`: a conditional request, answered when the person picks a passkey
 * in the email field's suggestions (a later request aborts it: "AbortError").
 */
export async function passkeyGet(optionsJson, autofill) {
  if (!passkeysSupported()) throw "NotSupportedError";
  try {
    await stopConditional();
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(JSON.parse(optionsJson).publicKey);
    let request = { publicKey };
    let mine = null;
    if (autofill) {
      const controller = new AbortController();
      request = { publicKey, mediation: "conditional", signal: controller.signal };
      mine = { controller, done: null };
    }
    const asked = navigator.credentials.get(request);
    if (mine) {
      mine.done = asked;
      conditional = mine;
    }
    const credential = await asked;
    if (mine && conditional === mine) conditional = null;
    return JSON.stringify(credential.toJSON());
  } catch (e) {
    throw failure(e);
  }
}
