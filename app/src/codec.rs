//! JSON for server function outputs and errors, read in the browser with
//! `serde_json::from_str`.
//!
//! The wire format is exactly server_fn's `Json` (same content type, same
//! `serde_json` bytes). The only difference is on the reading side: server_fn's
//! `JsonEncoding` parses with `serde_json::from_slice`, while resources
//! hydrate with `serde_json::from_str`. Every output type is read both ways
//! (a resource's first value comes from the page, later ones from the
//! server), so the WebAssembly carried two copies of every `Deserialize`
//! path, one per reader. Reading responses as `&str` too leaves one copy.

use serde::{de::DeserializeOwned, Serialize};
use server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};

/// JSON, encoded like `server_fn::codec::JsonEncoding`, decoded from `&str`.
pub struct JsonText;

/// Output encoding for every server function: a JSON body, as `Json`.
pub type JsonOut = server_fn::codec::Post<JsonText>;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        // Not UTF-8 is not JSON either. (Not `from_slice` here: that would
        // bring the second copy back.)
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}
