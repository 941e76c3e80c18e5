//! The layer's own rate limits (codes, status reads) with their failure policies: a limiter
//! that cannot be asked is not a client over its limit ([`HttpSettings::mint_when_down`],
//! [`HttpSettings::poll_when_down`]).

use std::net::IpAddr;

use sqrl_server::{Admission, Rule, WhenDown};

use crate::error::ApiError;
#[cfg(doc)]
use crate::HttpSettings;
use crate::SqrlHttp;

impl SqrlHttp {
    /// Takes a token of a limit for the client at `ip`: `Ok(true)` allowed, `Ok(false)` over
    /// the limit, `Err` the limiter is unavailable and `when_down` refuses.
    pub(crate) async fn admit(
        &self,
        rule: &Rule,
        when_down: WhenDown,
        ip: IpAddr,
    ) -> Result<bool, ApiError> {
        match self.inner.sqrl.check(rule, ip, self.now()).await {
            Admission::Allowed => Ok(true),
            Admission::Limited => Ok(false),
            Admission::Unavailable => {
                self.inner.metrics.backend("limiter");
                match when_down {
                    WhenDown::Admit => Ok(true),
                    WhenDown::Refuse => Err(ApiError::Unavailable),
                }
            }
        }
    }

    /// Takes a token of the status-request limit for the client at `ip` (see
    /// [`HttpSettings::poll_when_down`]).
    pub(crate) async fn allow_poll(&self, ip: IpAddr) -> Result<bool, ApiError> {
        let settings = &self.inner.settings;
        self.admit(&settings.poll_rule, settings.poll_when_down, ip)
            .await
    }
}
