//! The one error of every action, and the one place that says what each
//! kind of failure means for an exit code, an HTTP status and Cortex.

use serde_json::{json, Value};
use std::fmt;

/// What kind of failure an action met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is wrong (a field missing or malformed, a file that is
    /// not there, an output in the way): the caller's to fix.
    InvalidInput,
    /// VirusTotal refused the key, or the call needs a premium key.
    Forbidden,
    /// VirusTotal does not know the object.
    NotFound,
    /// The object already exists (a second vote from one key).
    Conflict,
    /// A file larger than VirusTotal accepts.
    TooLarge,
    /// The quota is spent (VirusTotal's, or the budget vtc keeps).
    QuotaExceeded,
    /// VirusTotal could not be reached or failed: try again later.
    Unavailable,
    /// An analysis did not complete in the time given; it goes on.
    WaitTimeout,
    /// What was downloaded is not what was asked for.
    Integrity,
    /// The configured API URL does not lead to a VirusTotal API (another
    /// server answered): the operator's to fix, not the caller's.
    Misconfigured,
    /// Anything else (a local disk failing, an answer we cannot read).
    Internal,
}

impl ErrorKind {
    /// The process exit code: 2 for what the user must fix, 1 otherwise.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::InvalidInput
            | ErrorKind::Forbidden
            | ErrorKind::TooLarge
            | ErrorKind::Misconfigured => 2,
            ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::QuotaExceeded
            | ErrorKind::Unavailable
            | ErrorKind::WaitTimeout
            | ErrorKind::Integrity
            | ErrorKind::Internal => 1,
        }
    }

    /// The HTTP status a service answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidInput => 400,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::TooLarge => 413,
            ErrorKind::QuotaExceeded => 429,
            ErrorKind::Unavailable | ErrorKind::WaitTimeout => 503,
            ErrorKind::Integrity | ErrorKind::Misconfigured => 502,
            ErrorKind::Internal => 500,
        }
    }

    /// How a Cortex analyzer's `errorMessage` begins.
    fn cortex_prefix(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "Invalid input",
            ErrorKind::Forbidden => "Access denied by VirusTotal",
            ErrorKind::NotFound => "Not found in VirusTotal",
            ErrorKind::Conflict => "Already done",
            ErrorKind::TooLarge => "File too large for VirusTotal",
            ErrorKind::QuotaExceeded => "VirusTotal quota exceeded",
            ErrorKind::Unavailable => "VirusTotal unavailable",
            ErrorKind::WaitTimeout => "Analysis not finished",
            ErrorKind::Integrity => "Download corrupted",
            ErrorKind::Misconfigured => "The configured API URL is not a VirusTotal API",
            ErrorKind::Internal => "Error",
        }
    }

    /// The stable code machine output carries when the API gave none.
    fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::Forbidden => "ForbiddenError",
            ErrorKind::NotFound => "NotFoundError",
            ErrorKind::Conflict => "AlreadyExistsError",
            ErrorKind::TooLarge => "FileTooLarge",
            ErrorKind::QuotaExceeded => "QuotaExceededError",
            ErrorKind::Unavailable => "Unavailable",
            ErrorKind::WaitTimeout => "WaitTimeout",
            ErrorKind::Integrity => "IntegrityError",
            ErrorKind::Misconfigured => "NotTheApi",
            ErrorKind::Internal => "Error",
        }
    }
}

/// Why an action failed: a kind, a stable code (the API's own error code
/// when VirusTotal gave one) and one line saying what happened, said once.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ActionError {
    kind: ErrorKind,
    code: String,
    message: String,
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ActionError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ActionError {
        ActionError {
            kind,
            code: kind.code().to_owned(),
            message: message.into(),
        }
    }

    /// Bad input: exit 2, HTTP 400.
    pub fn invalid(message: impl Into<String>) -> ActionError {
        ActionError::new(ErrorKind::InvalidInput, message)
    }

    pub fn internal(message: impl Into<String>) -> ActionError {
        ActionError::new(ErrorKind::Internal, message)
    }

    /// A client error, classified; `what` says what was being done when
    /// the API's own message does not (e.g. "virustotal does not know X").
    pub fn api(err: vt_api::Error, what: Option<String>) -> ActionError {
        let kind = match &err {
            vt_api::Error::NotTheApi { .. } => ErrorKind::Misconfigured,
            e if e.is_auth_error() || e.status() == Some(403) => ErrorKind::Forbidden,
            e if e.is_not_found() => ErrorKind::NotFound,
            e if e.status() == Some(409) => ErrorKind::Conflict,
            e if e.is_rate_limited() => ErrorKind::QuotaExceeded,
            vt_api::Error::QuotaExhausted { .. } | vt_api::Error::BulkReserve { .. } => {
                ErrorKind::QuotaExceeded
            }
            vt_api::Error::FileTooLarge { .. } => ErrorKind::TooLarge,
            vt_api::Error::Io { .. } | vt_api::Error::InvalidConfig(_) => ErrorKind::InvalidInput,
            vt_api::Error::Write { .. } => ErrorKind::Internal,
            e if e.status() == Some(400) => ErrorKind::InvalidInput,
            e if e.is_retryable() || e.is_connect_error() => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        let code = match &err {
            vt_api::Error::Api { .. } => err.code_name().to_owned(),
            _ => kind.code().to_owned(),
        };
        let message = match what {
            Some(what) => format!("{what}: {err}"),
            None => err.to_string(),
        };
        ActionError {
            kind,
            code,
            message,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code: the API's error code (`NotFoundError`, ...) or the kind's.
    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }

    pub fn http_status(&self) -> u16 {
        self.kind.http_status()
    }

    /// The `errorMessage` of a failed Cortex analyzer run.
    pub fn cortex_message(&self) -> String {
        format!("{}: {}", self.kind.cortex_prefix(), self.message)
    }

    /// `{"error": {"code", "message"}}`, as `vtc action` and the service answer.
    pub fn to_json(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }

    /// The same error with `context: ` in front of its message.
    pub fn context(mut self, context: impl fmt::Display) -> ActionError {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn each_kind_maps_to_one_exit_code_status_and_cortex_message() {
        let cases = [
            (ErrorKind::InvalidInput, 2, 400, "Invalid input"),
            (ErrorKind::Forbidden, 2, 403, "Access denied"),
            (ErrorKind::NotFound, 1, 404, "Not found"),
            (ErrorKind::Conflict, 1, 409, "Already"),
            (ErrorKind::TooLarge, 2, 413, "File too large"),
            (ErrorKind::QuotaExceeded, 1, 429, "VirusTotal quota"),
            (ErrorKind::Unavailable, 1, 503, "VirusTotal unavailable"),
            (ErrorKind::WaitTimeout, 1, 503, "Analysis not finished"),
            (ErrorKind::Integrity, 1, 502, "Download corrupted"),
            (ErrorKind::Misconfigured, 2, 502, "The configured API URL"),
            (ErrorKind::Internal, 1, 500, "Error"),
        ];
        for (kind, exit, status, cortex) in cases {
            let err = ActionError::new(kind, "it broke");
            assert_eq!(err.exit_code(), exit, "{kind:?}");
            assert_eq!(err.http_status(), status, "{kind:?}");
            assert!(err.cortex_message().starts_with(cortex), "{kind:?}");
            assert!(err.cortex_message().ends_with(": it broke"), "{kind:?}");
            let json = err.to_json();
            assert_eq!(json["error"]["message"], "it broke");
            assert!(json["error"]["code"]
                .as_str()
                .is_some_and(|c| !c.is_empty()));
        }
    }

    #[test]
    fn api_errors_keep_the_api_code_and_say_their_message_once() {
        let err = vt_api::Error::Api {
            status: 404,
            code: vt_api::ApiCode::parse("NotFoundError"),
            message: "File \"x\" not found".into(),
        };
        let action = ActionError::api(err, Some("virustotal does not know x".into()));
        assert_eq!(action.kind(), ErrorKind::NotFound);
        assert_eq!(action.code(), "NotFoundError");
        assert_eq!(action.message().matches("not found").count(), 1);
    }
}
