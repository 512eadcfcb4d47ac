//! Protocol errors, each carrying the HTTP status and `scimType` of RFC 7644 §3.12.

/// A client error detected by the protocol layer. The message is the SCIM `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    /// 400 `invalidFilter`: bad filter syntax or an unknown attribute in a filter.
    #[error("{0}")]
    InvalidFilter(String),
    /// 400 `tooMany`.
    #[error("{0}")]
    TooMany(String),
    /// 409 `uniqueness`.
    #[error("{0}")]
    Uniqueness(String),
    /// 400 `mutability`: an attempt to change a readOnly or immutable attribute.
    #[error("{0}")]
    Mutability(String),
    /// 400 `invalidSyntax`: a request body that is not valid for the endpoint.
    #[error("{0}")]
    InvalidSyntax(String),
    /// 400 `invalidPath`: a PATCH path that is malformed or names nothing.
    #[error("{0}")]
    InvalidPath(String),
    /// 400 `noTarget`: a PATCH path whose filter matched nothing where a match is needed.
    #[error("{0}")]
    NoTarget(String),
    /// 400 `invalidValue`: a value of the wrong type, a missing required attribute.
    #[error("{0}")]
    InvalidValue(String),
    /// 400 `invalidVers`.
    #[error("{0}")]
    InvalidVersion(String),
    /// 400 `invalidCursor` (RFC 9865 §3.3): a cursor this server did not issue.
    #[error("{0}")]
    InvalidCursor(String),
}

impl ScimError {
    /// The HTTP status code of this error.
    pub fn status(&self) -> u16 {
        match self {
            ScimError::Uniqueness(_) => 409,
            ScimError::InvalidFilter(_)
            | ScimError::TooMany(_)
            | ScimError::Mutability(_)
            | ScimError::InvalidSyntax(_)
            | ScimError::InvalidPath(_)
            | ScimError::NoTarget(_)
            | ScimError::InvalidValue(_)
            | ScimError::InvalidVersion(_)
            | ScimError::InvalidCursor(_) => 400,
        }
    }

    /// The `scimType` keyword of RFC 7644 §3.12 table 9.
    pub fn scim_type(&self) -> &'static str {
        match self {
            ScimError::InvalidFilter(_) => "invalidFilter",
            ScimError::TooMany(_) => "tooMany",
            ScimError::Uniqueness(_) => "uniqueness",
            ScimError::Mutability(_) => "mutability",
            ScimError::InvalidSyntax(_) => "invalidSyntax",
            ScimError::InvalidPath(_) => "invalidPath",
            ScimError::NoTarget(_) => "noTarget",
            ScimError::InvalidValue(_) => "invalidValue",
            ScimError::InvalidVersion(_) => "invalidVers",
            ScimError::InvalidCursor(_) => "invalidCursor",
        }
    }

    /// The human-readable detail.
    pub fn detail(&self) -> &str {
        match self {
            ScimError::InvalidFilter(d)
            | ScimError::TooMany(d)
            | ScimError::Uniqueness(d)
            | ScimError::Mutability(d)
            | ScimError::InvalidSyntax(d)
            | ScimError::InvalidPath(d)
            | ScimError::NoTarget(d)
            | ScimError::InvalidValue(d)
            | ScimError::InvalidVersion(d)
            | ScimError::InvalidCursor(d) => d,
        }
    }
}
