//! The domain's failures: what kind of failure it is (`ErrorKind`, what a caller acts on), which
//! one (`ErrorCode`, the machine code clients see) and a message safe to show anyone.
//!
//! Nothing here knows HTTP: `api::error` maps kinds and codes to statuses and renders the wire
//! body, and a worker without a request (refresh, webhooks) decides by the kind. This module
//! depends on nothing else in the crate, so every module may use it.

/// What a caller can do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// What was asked for does not exist (an integration, a connection, a route).
    NotFound,
    /// The input is wrong; the same request fails the same way.
    InvalidInput,
    /// A concurrent change won, or the thing exists already.
    Conflict,
    /// The caller did not prove who it is.
    Unauthorized,
    /// The caller is known but may not do this.
    Forbidden,
    /// The provider refused for good (a rejected grant or key, a denied consent): retrying
    /// the same request fails the same way.
    ProviderRefused,
    /// The provider did not answer, timed out or failed on its side: worth retrying later.
    ProviderUnavailable,
    /// A service Latchkey needs (the store, the key service) is unreachable; nothing changed.
    Unavailable,
    /// A fault of Latchkey's own (a corrupt record, a bug).
    Internal,
}

impl ErrorKind {
    /// Worth retrying as is: nothing about the request was wrong.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::ProviderUnavailable | ErrorKind::Unavailable)
    }

    /// Latchkey's own trouble (store or key service down, a bug): neither the caller's input
    /// nor the provider's answer.
    pub fn is_internal(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::Internal)
    }
}

/// Lists every wire code once: the variant and the text clients see.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, )*) => {
        /// Every error code Latchkey answers with: `error.code` of a JSON error, `error_type`
        /// of a browser flow's result, `error_code` of an activity entry.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                }
            }
        }
    };
}

error_codes! {
    // Requests.
    InvalidBody = "invalid_body",
    InvalidQueryParams = "invalid_query_params",
    PayloadTooLarge = "payload_too_large",
    MethodNotAllowed = "method_not_allowed",
    NotFound = "not_found",
    Conflict = "conflict",
    InvalidIntegrationKey = "invalid_integration_key",
    InvalidConnectionId = "invalid_connection_id",
    /// A public-key flow without an HMAC digest named a connection that exists: it may create
    /// connections, not replace them.
    ConnectionExists = "connection_exists",
    // Integrations and the catalog.
    UnknownProviderConfig = "unknown_provider_config",
    UnknownProvider = "unknown_provider",
    UnsupportedAuthMode = "unsupported_auth_mode",
    InvalidAuthMode = "invalid_auth_mode",
    InvalidIntegration = "invalid_integration",
    DuplicateIntegration = "duplicate_integration",
    MissingClientId = "missing_client_id",
    MissingClientSecret = "missing_client_secret",
    UnsupportedProviderTemplate = "unsupported_provider_template",
    /// An MCP server's authorization server did not register Latchkey's client (RFC 7591).
    ClientRegistrationFailed = "client_registration_failed",
    /// An MCP server's OAuth metadata (RFC 9728, RFC 8414) could not be found or was refused.
    McpDiscoveryFailed = "mcp_discovery_failed",
    // Connection config and credentials.
    InvalidConnectionConfig = "invalid_connection_config",
    MissingConnectionConfig = "missing_connection_config",
    InvalidCredentials = "invalid_credentials",
    ConnectionTestFailed = "connection_test_failed",
    /// A host an end user chose is not one the integration allows, or not one Latchkey sends
    /// requests to (a private address); nothing was sent.
    HostNotAllowed = "host_not_allowed",
    // Frontend authentication.
    MissingAuthToken = "missing_auth_token",
    InvalidAuthToken = "invalid_auth_token",
    MissingHmac = "missing_hmac",
    InvalidHmac = "invalid_hmac",
    UnknownConnectSessionToken = "unknown_connect_session_token",
    ExpiredConnectSessionToken = "expired_connect_session_token",
    IntegrationNotAllowed = "integration_not_allowed",
    OriginNotAllowed = "origin_not_allowed",
    // Backend authentication.
    MissingAuthHeader = "missing_auth_header",
    MalformedAuthHeader = "malformed_auth_header",
    InvalidSecretKey = "invalid_secret_key",
    ExpiredSignature = "expired_signature",
    InvalidSignature = "invalid_signature",
    /// A signed request that changes something was sent again: each is accepted once.
    ReplayedSignature = "replayed_signature",
    /// Rotating keys takes the current secret key, not the previous one in its grace period.
    KeyManagementForbidden = "key_management_forbidden",
    // The console's sessions.
    /// No console session, or one that was signed out.
    ConsoleSignInRequired = "console_sign_in_required",
    ConsoleSessionExpired = "console_session_expired",
    /// A console change without the session's CSRF token.
    InvalidCsrfToken = "invalid_csrf_token",
    /// A console change sent from another site (its `Origin`).
    CrossOriginRequest = "cross_origin_request",
    // Outcomes of a browser flow (`error_type` of the result page).
    /// The callback matches no live flow: no state, an unknown or used one, or an expired one.
    StateErr = "state_err",
    /// The code could not be turned into credentials.
    TokenErr = "token_err",
    /// A redirect attempt's end user never came back from the provider before its flow state
    /// expired (`failed` entry of the attempt, written by `jobs::deadline`).
    AttemptExpired = "attempt_expired",
    // Refreshing a connection's credentials (`GET /connections/{id}`, HTTP 424 as Nango's).
    /// The last refresh was refused and Latchkey waits before it asks the provider again.
    ConnectionRefreshBackoff = "connection_refresh_backoff",
    /// Refreshes were refused too often: Latchkey stopped asking until a forced refresh or a
    /// new authorization.
    ConnectionRefreshExhausted = "connection_refresh_exhausted",
    /// The provider did not answer a refresh that was needed (failed on its side, timed out,
    /// unreachable); Latchkey retries.
    ProviderUnavailable = "provider_unavailable",
    /// The person declined at the provider.
    AccessDenied = "access_denied",
    /// The provider answered the callback with another OAuth error.
    ProviderErr = "provider_err",
    // Auth webhooks (`error_code` of a `webhook` activity entry).
    /// A webhook attempt failed: no answer in time, no answer, a status other than 2xx, or a
    /// URL Latchkey does not send to.
    WebhookFailed = "webhook_failed",
    // Latchkey's own trouble.
    ServerError = "server_error",
    ServiceUnavailable = "service_unavailable",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A failure of a domain operation. `message` is written for the caller and never holds a
/// secret or a submitted value that failed its check (it may name a validated key or id:
/// `domain::nameable`), nor a provider's own words; details for the operator go to the
/// activity log and traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub code: ErrorCode,
    pub message: String,
    /// For the operator only (the activity entry, beside `message`): what the caller is not
    /// told, such as the host that was refused or the status a provider answered. Never a secret.
    pub detail: Option<String>,
    /// What the provider or the transport said, as a short machine code (`invalid_grant`,
    /// `token_timeout`), for the activity entry of a refresh. Never a secret.
    pub cause: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            detail: None,
            cause: None,
        }
    }
    /// The same failure with what only the operator is told.
    pub fn with_detail(self, detail: impl Into<String>) -> Self {
        Self {
            detail: Some(detail.into()),
            ..self
        }
    }
    /// The same failure with the provider's (or the transport's) code of it.
    pub fn with_cause(self, cause: impl Into<String>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..self
        }
    }
    /// The message as the operator's activity log records it: with the detail, if any.
    pub fn for_operator(&self) -> String {
        match &self.detail {
            Some(d) => format!("{} ({d})", self.message),
            None => self.message.clone(),
        }
    }
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, code, message)
    }
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::invalid(ErrorCode::InvalidBody, message)
    }
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }
    /// No integration has `key`, a parsed key (`IntegrationKey::from_path` answers for text that
    /// cannot be one, without repeating it).
    pub fn unknown_integration(key: &str) -> Self {
        Self::not_found(
            ErrorCode::UnknownProviderConfig,
            format!("No integration with unique key '{key}'."),
        )
    }
    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, code, message)
    }
    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, code, message)
    }
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }
    /// The provider's answer, refused for good (`transient: false`) or worth a retry.
    pub fn provider(transient: bool, code: ErrorCode, message: impl Into<String>) -> Self {
        let kind = if transient {
            ErrorKind::ProviderUnavailable
        } else {
            ErrorKind::ProviderRefused
        };
        Self::new(kind, code, message)
    }
    /// `what` ("The store", "The key service") could not be reached; nothing was changed.
    pub fn unavailable(what: &str) -> Self {
        Self::new(
            ErrorKind::Unavailable,
            ErrorCode::ServiceUnavailable,
            format!("{what} is temporarily unavailable; nothing was changed. Retry later."),
        )
    }
    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            ErrorCode::ServerError,
            "An internal error occurred.",
        )
    }
    /// The same failure reported under another code: a flow names its own outcome
    /// (`token_err`), an operation its own reason (`invalid_credentials`).
    pub fn with_code(self, code: ErrorCode) -> Self {
        Self { code, ..self }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_snake_case_wire_text() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} is listed twice");
            assert!(
                !text.is_empty() && text.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{text}"
            );
        }
        assert_eq!(ErrorCode::InvalidQueryParams.as_str(), "invalid_query_params");
        assert_eq!(serde_json::to_string(&ErrorCode::TokenErr).unwrap(), "\"token_err\"");
    }

    #[test]
    fn kinds_say_what_a_caller_can_do() {
        assert!(ErrorKind::ProviderUnavailable.is_transient());
        assert!(ErrorKind::Unavailable.is_transient());
        assert!(!ErrorKind::ProviderRefused.is_transient());
        assert!(Error::unavailable("The store").kind.is_internal());
        assert!(!Error::provider(true, ErrorCode::TokenErr, "x").kind.is_internal());
        let e = Error::provider(false, ErrorCode::ConnectionTestFailed, "no").with_code(ErrorCode::InvalidCredentials);
        assert_eq!(
            (e.kind, e.code),
            (ErrorKind::ProviderRefused, ErrorCode::InvalidCredentials)
        );
    }
}
