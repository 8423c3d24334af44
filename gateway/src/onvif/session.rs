//! One camera's ONVIF requests: the device's clock, its services, the
//! snapshot address, and the pull-point subscription's life (create, pull,
//! renew, unsubscribe). Every request is authenticated with a fresh
//! UsernameToken stamped in the camera's time.

use std::time::Duration;

use super::config::CameraConfig;
use super::http::{self, Endpoint, HttpError};
use super::parse::{self, Fault, ParseError, Pulled, Services, Subscription};
use super::soap::{self, Call, Credentials};
use crate::clock::SharedClock;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CallError {
    /// No answer (connection refused or broken, timeout, too large).
    #[error("{0}")]
    Http(#[from] HttpError),
    /// An HTTP error status without a SOAP fault.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The camera answered with a SOAP fault.
    #[error("SOAP fault {0}")]
    Fault(Fault),
    /// The answer is not the response expected.
    #[error("{0}")]
    Parse(ParseError),
    /// An address the camera gave is unusable.
    #[error("address: {0}")]
    Address(String),
}

impl CallError {
    /// The camera refused the credentials.
    pub(crate) fn is_unauthorized(&self) -> bool {
        match self {
            Self::Fault(f) => f.is_unauthorized(),
            Self::Status(s) => *s == 401,
            _ => false,
        }
    }
}

impl From<ParseError> for CallError {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::Fault(f) => Self::Fault(f),
            e => Self::Parse(e),
        }
    }
}

/// What the gateway learned from the camera at the start of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discovered {
    /// The event service.
    pub(crate) events: Endpoint,
    /// The snapshot address of the first media profile, when the camera has one.
    pub(crate) snapshot: Option<String>,
}

/// A camera's requests.
#[derive(Debug)]
pub(crate) struct Session {
    cfg: CameraConfig,
    device: Endpoint,
    clock: SharedClock,
    /// The camera's clock minus the gateway's, ms.
    offset_ms: i64,
}

impl Session {
    /// Requests to the camera `cfg` names (its address already validated).
    pub(crate) fn new(cfg: CameraConfig, clock: SharedClock) -> Result<Self, CallError> {
        let device = Endpoint::parse(&cfg.address).map_err(CallError::Address)?;
        Ok(Self {
            cfg,
            device,
            clock,
            offset_ms: 0,
        })
    }

    fn limit(&self) -> Duration {
        Duration::from_millis(self.cfg.request_timeout_ms)
    }

    async fn call(
        &self,
        to: &Endpoint,
        c: &Call,
        auth: bool,
        limit: Duration,
    ) -> Result<String, CallError> {
        let mut nonce = [0u8; 16];
        if getrandom::fill(&mut nonce).is_err() {
            // Never seen on Linux; a clock-derived nonce still differs per request.
            nonce[..8].copy_from_slice(&self.clock.now_ms().to_le_bytes());
        }
        let created = self.clock.now_ms().saturating_add_signed(self.offset_ms);
        let creds = auth.then_some(Credentials {
            username: &self.cfg.username,
            password: &self.cfg.password,
        });
        let envelope = soap::envelope(c, creds, created, &nonce);
        let (status, text) = http::post(to, c.action, envelope, limit).await?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        match parse::fault(&text) {
            Some(f) => Err(CallError::Fault(f)),
            None => Err(CallError::Status(status)),
        }
    }

    /// Reads the camera's clock (unauthenticated) so tokens carry its time.
    pub(crate) async fn sync_clock(&mut self) -> Result<(), CallError> {
        let text = self
            .call(
                &self.device,
                &soap::get_system_date_and_time(),
                false,
                self.limit(),
            )
            .await?;
        let camera = parse::system_time(&text)?;
        self.offset_ms =
            i64::try_from(camera).unwrap_or(0) - i64::try_from(self.clock.now_ms()).unwrap_or(0);
        if self.offset_ms.abs() > 5_000 {
            tracing::info!(camera = %self.cfg.id, offset_ms = self.offset_ms, "onvif: the camera's clock differs from the gateway's; tokens use the camera's");
        }
        Ok(())
    }

    /// Finds the event service and the snapshot address.
    pub(crate) async fn discover(&self) -> Result<Discovered, CallError> {
        let services = match self.services(&soap::get_services()).await {
            Ok(s) if s.events.is_some() => s,
            // Devices of ONVIF before 2.0 have only GetCapabilities.
            Err(e) if e.is_unauthorized() => return Err(e),
            Ok(_) | Err(CallError::Fault(_) | CallError::Status(_) | CallError::Parse(_)) => {
                self.services(&soap::get_capabilities()).await?
            }
            Err(e) => return Err(e),
        };
        let events = services
            .events
            .as_deref()
            .ok_or(CallError::Parse(ParseError::Missing("event service")))?;
        let events = Endpoint::parse(events).map_err(CallError::Address)?;
        let snapshot = match &services.media {
            Some(media) => match self.snapshot(media).await {
                Ok(uri) => Some(uri),
                Err(e @ CallError::Http(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(camera = %self.cfg.id, error = %e, "onvif: no snapshot address; events go without one");
                    None
                }
            },
            None => None,
        };
        Ok(Discovered { events, snapshot })
    }

    async fn services(&self, c: &Call) -> Result<Services, CallError> {
        let text = self.call(&self.device, c, true, self.limit()).await?;
        Ok(parse::services(&text)?)
    }

    async fn snapshot(&self, media: &str) -> Result<String, CallError> {
        let media = Endpoint::parse(media).map_err(CallError::Address)?;
        let text = self
            .call(&media, &soap::get_profiles(), true, self.limit())
            .await?;
        let token = parse::profiles(&text)?
            .into_iter()
            .next()
            .ok_or(CallError::Parse(ParseError::Missing("media profile")))?;
        let text = self
            .call(&media, &soap::get_snapshot_uri(&token), true, self.limit())
            .await?;
        Ok(parse::snapshot_uri(&text)?)
    }

    /// Creates a pull-point subscription at the event service.
    pub(crate) async fn subscribe(
        &self,
        events: &Endpoint,
    ) -> Result<(Endpoint, Subscription), CallError> {
        let c = soap::create_pull_point_subscription(self.cfg.termination_s);
        let text = self.call(events, &c, true, self.limit()).await?;
        let sub = parse::subscription(&text)?;
        let at = Endpoint::parse(&sub.address).map_err(CallError::Address)?;
        Ok((at, sub))
    }

    /// Waits for notifications at the subscription.
    pub(crate) async fn pull(&self, sub: &Endpoint, address: &str) -> Result<Pulled, CallError> {
        let c = soap::pull_messages(address, self.cfg.pull_timeout_s, self.cfg.message_limit);
        let limit = self.limit() + Duration::from_secs(self.cfg.pull_timeout_s);
        let text = self.call(sub, &c, true, limit).await?;
        Ok(parse::pulled(&text)?)
    }

    /// Extends the subscription.
    pub(crate) async fn renew(
        &self,
        sub: &Endpoint,
        address: &str,
    ) -> Result<Subscription, CallError> {
        let c = soap::renew(address, self.cfg.termination_s);
        let text = self.call(sub, &c, true, self.limit()).await?;
        Ok(parse::renewed(&text)?)
    }

    /// Ends the subscription (at shutdown), waiting at most `limit`.
    pub(crate) async fn unsubscribe(&self, sub: &Endpoint, address: &str, limit: Duration) -> bool {
        let c = soap::unsubscribe(address);
        self.call(sub, &c, true, limit)
            .await
            .is_ok_and(|t| parse::is_success(&t))
    }
}

/// How long the camera granted, ms: its termination time minus its current
/// time, or what was asked when it does not say.
pub(crate) fn granted_ms(sub: &Subscription, asked_s: u64) -> u64 {
    match (sub.current_ms, sub.termination_ms) {
        (Some(now), Some(end)) if end > now => end - now,
        _ => asked_s * 1000,
    }
}
