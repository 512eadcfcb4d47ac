//! HTTP to destinations that org admins choose: webhook endpoints, OIDC issuers and the
//! URLs their discovery documents name (token, userinfo, JWKS).
//!
//! Without a guard any org admin could make this server fetch its own loopback services,
//! the cloud metadata service (169.254.169.254), the private network or the database port
//! (SSRF), and read from the errors which of them answer. So by default a destination is
//! refused unless every address it is reached at is public ([`addresses`]). The check is
//! made on the address actually connected to: host names go through [`Guard`], a DNS
//! resolver that drops internal addresses (a name that resolves to 127.0.0.1 is refused,
//! and re-resolving cannot swap in another address after the check), and an IP literal in
//! the URL, which reqwest connects to without asking the resolver, is checked first by
//! [`GuardedClient::execute`]. Operators list the internal hosts they trust
//! (`--outbound-allow-hosts`): names, IP addresses or CIDR ranges.
//!
//! Redirects are never followed (they would move a request past the check), and errors
//! say no more than "could not be used": which of unreachable, refused or a bad answer it
//! was goes to the operator's log only.

mod addresses;
mod redact;

pub use redact::{redact_url, scrub_url};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Which destinations outbound HTTP may reach: public addresses, plus the hosts and
/// networks an operator allowed. The default allows nothing internal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    allowed: Arc<Allowed>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Allowed {
    /// Host names, lower case, without a trailing dot.
    hosts: BTreeSet<String>,
    /// IP addresses (as /32 or /128) and ranges.
    nets: Vec<IpNet>,
}

/// A destination that is not allowed. Its text is for the operator's log.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{host} is not an allowed destination: it is (or resolves only to) an internal address; \
     an operator may allow it with --outbound-allow-hosts"
)]
pub struct Refused {
    pub host: String,
}

impl Destinations {
    /// Public addresses, and each entry of `allowed`: a host name (`hooks.internal`), an IP
    /// address (`10.0.0.7`, `::1`) or a CIDR range (`10.0.0.0/8`).
    pub fn allowing<S: AsRef<str>>(allowed: &[S]) -> Result<Destinations, String> {
        let mut hosts = BTreeSet::new();
        let mut nets = Vec::new();
        for entry in allowed {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            if let Ok(net) = entry.parse::<IpNet>() {
                nets.push(net.trunc());
            } else if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                nets.push(IpNet::from(ip));
            } else if is_host_name(entry) {
                hosts.insert(normal_host(entry));
            } else {
                return Err(format!(
                    "{entry:?} is neither a host name, an IP address nor a CIDR range"
                ));
            }
        }
        Ok(Destinations {
            allowed: Arc::new(Allowed { hosts, nets }),
        })
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        addresses::is_public(ip) || self.allowed.nets.iter().any(|n| n.contains(&ip))
    }

    /// Whether the operator listed this host name (then any address it resolves to goes).
    fn permits_host(&self, host: &str) -> bool {
        self.allowed.hosts.contains(&normal_host(host))
    }

    /// The check for what the resolver never sees: an IP address written in the URL.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            // Names are checked at connect time, by the resolver.
            Some(url::Host::Domain(_)) | None => return Ok(()),
        };
        if self.permits_ip(ip) {
            Ok(())
        } else {
            Err(Refused {
                host: ip.to_string(),
            })
        }
    }

    /// A client builder that resolves through [`Guard`] and never follows redirects.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        crate::tls::ensure_crypto_provider();
        reqwest::Client::builder()
            .dns_resolver(Guard {
                destinations: self.clone(),
            })
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rollcall/", env!("CARGO_PKG_VERSION")))
    }
}

fn normal_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The DNS resolver of guarded clients: the system's resolver, less every address that
/// [`Destinations::permits_ip`] refuses; none left is an error.
#[derive(Debug, Clone)]
pub struct Guard {
    destinations: Destinations,
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let destinations = self.destinations.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let host_allowed = destinations.permits_host(&host);
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| host_allowed || destinations.permits_ip(a.ip()))
                .collect();
            if usable.is_empty() {
                let refused = Refused { host };
                tracing::warn!(error = %refused, "outbound request refused");
                return Err(refused.into());
            }
            let addrs: Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}

/// Why a guarded request failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The destination is internal and not allowed.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// Any other failure to get an answer, described without the URL.
    #[error("{0}")]
    Http(String),
}

impl From<reqwest::Error> for SendError {
    fn from(e: reqwest::Error) -> SendError {
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<Refused>() {
                return SendError::Refused(refused.clone());
            }
            source = cause.source();
        }
        SendError::Http(describe(e))
    }
}

/// reqwest's error without its URL (which may carry a token), with its causes: the
/// Display stops at "error sending request", the cause says why.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut message = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A reqwest client that reaches only allowed destinations.
#[derive(Debug, Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    destinations: Destinations,
}

impl GuardedClient {
    /// A client from [`Destinations::client_builder`], with the caller's settings
    /// (timeouts) applied by `configure`.
    pub fn new(
        destinations: &Destinations,
        configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Result<GuardedClient, String> {
        let client = configure(destinations.client_builder())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(GuardedClient {
            client,
            destinations: destinations.clone(),
        })
    }

    /// Starts a request (send it with [`GuardedClient::execute`]).
    pub fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends `request` if its destination is allowed.
    pub async fn execute(&self, request: reqwest::Request) -> Result<reqwest::Response, SendError> {
        self.destinations.check_url(request.url())?;
        Ok(self.client.execute(request).await?)
    }
}
