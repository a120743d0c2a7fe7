//! The API's error envelope and its error codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// `{"error": {"code": "...", "message": "..."}}`, the body of every 4xx/5xx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// One error: a code from [`ErrorCode`] and a human message.
///
/// Also appears inside collection items that failed individually.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl ErrorEnvelope {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorEnvelope {
            error: ErrorBody {
                code: code.as_str().to_owned(),
                message: message.into(),
            },
        }
    }
}

/// Every error code VirusTotal documents, with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    BadRequest,
    InvalidArgument,
    NotAvailableYet,
    UnselectiveContentQuery,
    UnsupportedContentQuery,
    AuthenticationRequired,
    UserNotActive,
    WrongCredentials,
    Forbidden,
    NotFound,
    AlreadyExists,
    FailedDependency,
    QuotaExceeded,
    TooManyRequests,
    Transient,
    DeadlineExceeded,
}

impl ErrorCode {
    /// All codes, in the order of the API's documentation.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::BadRequest,
        ErrorCode::InvalidArgument,
        ErrorCode::NotAvailableYet,
        ErrorCode::UnselectiveContentQuery,
        ErrorCode::UnsupportedContentQuery,
        ErrorCode::AuthenticationRequired,
        ErrorCode::UserNotActive,
        ErrorCode::WrongCredentials,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::FailedDependency,
        ErrorCode::QuotaExceeded,
        ErrorCode::TooManyRequests,
        ErrorCode::Transient,
        ErrorCode::DeadlineExceeded,
    ];

    /// The code as it appears on the wire, e.g. `NotFoundError`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BadRequestError",
            ErrorCode::InvalidArgument => "InvalidArgumentError",
            ErrorCode::NotAvailableYet => "NotAvailableYet",
            ErrorCode::UnselectiveContentQuery => "UnselectiveContentQueryError",
            ErrorCode::UnsupportedContentQuery => "UnsupportedContentQueryError",
            ErrorCode::AuthenticationRequired => "AuthenticationRequiredError",
            ErrorCode::UserNotActive => "UserNotActiveError",
            ErrorCode::WrongCredentials => "WrongCredentialsError",
            ErrorCode::Forbidden => "ForbiddenError",
            ErrorCode::NotFound => "NotFoundError",
            ErrorCode::AlreadyExists => "AlreadyExistsError",
            ErrorCode::FailedDependency => "FailedDependencyError",
            ErrorCode::QuotaExceeded => "QuotaExceededError",
            ErrorCode::TooManyRequests => "TooManyRequestsError",
            ErrorCode::Transient => "TransientError",
            ErrorCode::DeadlineExceeded => "DeadlineExceededError",
        }
    }

    /// The HTTP status the API answers this code with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest
            | ErrorCode::InvalidArgument
            | ErrorCode::NotAvailableYet
            | ErrorCode::UnselectiveContentQuery
            | ErrorCode::UnsupportedContentQuery => 400,
            ErrorCode::AuthenticationRequired
            | ErrorCode::UserNotActive
            | ErrorCode::WrongCredentials => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::AlreadyExists => 409,
            ErrorCode::FailedDependency => 424,
            ErrorCode::QuotaExceeded | ErrorCode::TooManyRequests => 429,
            ErrorCode::Transient => 503,
            ErrorCode::DeadlineExceeded => 504,
        }
    }

    /// Parses a wire code; `None` for a code the API does not document.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_wire_name() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("NoSuchError"), None);
    }
}
