use govshare_domain::ValidationError;
use govshare_store::StoreError;

/// Everything a use case can refuse or fail with. Each kind has a stable English code for machines and a
/// Chinese message for people.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Validation(#[from] ValidationError),
    /// A form checked as a whole: every field at fault, in the form's order (two or more; one is a
    /// [`ServiceError::Validation`]).
    #[error("{}", .0[0])]
    Invalid(Vec<ValidationError>),
    /// Not signed in, or the credential is wrong, expired or revoked.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A step taken out of turn (a dispute's rung skipped, a case already closed); `code` says which rule.
    #[error("{message}")]
    OutOfTurn { code: &'static str, message: String },
    #[error("登录失败次数过多，请 {retry_after_secs} 秒后再试")]
    RateLimited { retry_after_secs: i64 },
    /// The data plane refused an access (grant suspended, item not granted …); `code` says why.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// A grant's rate or volume limit is reached.
    #[error("{message}")]
    Throttled { code: &'static str, message: String, retry_after_secs: i64 },
    /// The provider's own service (a proxied source) failed or did not answer.
    #[error("{0}")]
    Upstream(String),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceError {
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Refused { code, message: message.into() }
    }

    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Unauthenticated { code, message: message.into() }
    }

    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Validation(_) | ServiceError::Invalid(_) => "validation_failed",
            ServiceError::Unauthenticated { code, .. } => code,
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::OutOfTurn { code, .. } => code,
            ServiceError::RateLimited { .. } => "rate_limited",
            ServiceError::Refused { code, .. } | ServiceError::Throttled { code, .. } => code,
            ServiceError::Upstream(_) => "upstream_failed",
            ServiceError::Internal(_) => "internal_error",
        }
    }

    /// Every problem of refused input (one or more), or `None` when the refusal is not about the input.
    pub fn problems(&self) -> Option<&[ValidationError]> {
        match self {
            ServiceError::Validation(v) => Some(std::slice::from_ref(v)),
            ServiceError::Invalid(all) => Some(all),
            _ => None,
        }
    }
}

/// The problems of input checked as a whole (at least one).
impl From<Vec<ValidationError>> for ServiceError {
    fn from(mut problems: Vec<ValidationError>) -> Self {
        match problems.len() {
            0 => ServiceError::Internal("input refused without a problem".into()),
            1 => ServiceError::Validation(problems.swap_remove(0)),
            _ => ServiceError::Invalid(problems),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            StoreError::Conflict(what) => ServiceError::Conflict(what),
            StoreError::Other(source) => ServiceError::Internal(source),
        }
    }
}
