//! Outbound HTTP to user-supplied URLs (after svix's webhook client): the one safe client
//! every webhook, GitHub and Slack call goes through.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

const USER_AGENT: &str = concat!("cron-job-platform/", env!("CARGO_PKG_VERSION"));

/// Whether an address is publicly routable, per the IANA special-purpose registries.
///
/// IPv4: not in 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24,
/// 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24,
/// 224/4, 240/4. IPv6: IPv4-mapped addresses (`::ffff:a.b.c.d`) are judged as their IPv4
/// address; otherwise only global unicast `2000::/3` may pass, minus `2001::/23` (IETF
/// protocol assignments: Teredo, benchmarking, ORCHID…), `2001:db8::/32` and `3fff::/20`
/// (documentation) and `2002::/16` (6to4, which embeds an IPv4 address). Everything else —
/// `::/96` (IPv4-compatible), `64:ff9b::/96` and `64:ff9b:1::/48` (NAT64, embedding IPv4),
/// `100::/64`, ULA, link- and site-local, multicast — is refused.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(o[0] == 0
                || o[0] == 10
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 127
                || (o[0] == 169 && o[1] == 254)
                || (o[0] == 172 && (16..32).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && (o[2] == 0 || o[2] == 2))
                || (o[0] == 192 && o[1] == 88 && o[2] == 99)
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || (o[0] == 198 && o[1] == 51 && o[2] == 100)
                || (o[0] == 203 && o[1] == 0 && o[2] == 113)
                || o[0] >= 224)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let global_unicast = (s[0] & 0xe000) == 0x2000;
            global_unicast
                && !((s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8))
                    || s[0] == 0x2002
                    || (s[0] & 0xfff0) == 0x3ff0)
        }
    }
}

/// A resolver that drops non-public addresses from the answer the connection then uses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let it: Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// The client for webhooks: no redirects, no proxy (a proxy would resolve names itself,
/// past the filter), connect timeout 5 s, and unless `allow_private` (local mode) only
/// public destinations. `None` when it cannot be built: callers then refuse to call out
/// rather than fall back to an unfiltered client.
pub fn client(allow_private: bool) -> Option<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(USER_AGENT);
    if !allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    b.build()
        .inspect_err(|e| tracing::error!(error = %e, "cannot build the webhook client"))
        .ok()
}

/// The client for configured, trusted endpoints (GitHub API); no proxy, no redirects.
pub fn trusted_client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(USER_AGENT)
        .build()
        .inspect_err(|e| tracing::error!(error = %e, "cannot build the GitHub client"))
        .ok()
}

/// Rejects URLs whose host is a literal non-public IP (the resolver is not consulted for
/// those), unless private targets are allowed.
pub fn check_literal_host(url: &url::Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(format!("destination {ip} is not a public address"))
    }
}

/// The error text with its sources, without the URL's query.
pub fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_redirect() {
        "redirect not followed"
    } else {
        "request failed"
    }
    .to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}
