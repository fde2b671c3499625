use govshare_domain::ValidationError;
use govshare_store::StoreError;

/// Everything a use case can refuse or fail with. Each kind has a stable English code for machines and a
/// Chinese message for people.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Validation(#[from] ValidationError),
    /// Not signed in, or the credential is wrong, expired or revoked.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
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
            ServiceError::Validation(_) => "validation_failed",
            ServiceError::Unauthenticated { code, .. } => code,
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::RateLimited { .. } => "rate_limited",
            ServiceError::Refused { code, .. } | ServiceError::Throttled { code, .. } => code,
            ServiceError::Upstream(_) => "upstream_failed",
            ServiceError::Internal(_) => "internal_error",
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
