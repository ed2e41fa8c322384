//! The wire objects of the API, in one place: what every response body looks like. Domain
//! modules return records and outcomes; handlers turn them into these.
//!
//! Fields are listed in alphabetical order: the byte order these objects have always had on
//! the wire (they were JSON maps, which sort their keys).

use serde::Serialize;

use crate::error::ErrorCode;

/// `{"error":{"code","message"}}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorDetail<'a> {
    code: ErrorCode,
    message: &'a str,
}

impl<'a> ErrorBody<'a> {
    pub fn new(code: ErrorCode, message: &'a str) -> Self {
        Self {
            error: ErrorDetail { code, message },
        }
    }
}
