//! Live updates: the integrator feeds the gateway publishes on its own
//! broker (alarms, orders, device availability, KPIs, completion notices)
//! read through an in-process subscription and fanned out to every
//! console as server-sent events (`GET /api/events`). The console learns
//! exactly what an integrator would, from the same messages.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use protocol::topic::Topic;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::state::{LiveEvent, Notices};
use crate::auth::Need;
use crate::bus::Subscription;

/// The event behind a site-feed message; `None` for feeds the console
/// does not show live (telemetry, aggregates) or a topic that does not parse.
pub fn event_of(topic: &[u8], payload: &[u8]) -> Option<LiveEvent> {
    let topic = std::str::from_utf8(topic).ok()?;
    let Ok(Topic::Site { feed, id, .. }) = Topic::parse(topic) else {
        return None;
    };
    let kind = match feed {
        protocol::Feed::Alarm => "alarm",
        protocol::Feed::Order => "order",
        protocol::Feed::Device => "device",
        protocol::Feed::Kpi => "kpi",
        protocol::Feed::Notice => "notice",
        _ => return None,
    };
    let data = serde_json::from_slice(payload).ok()?;
    Some(LiveEvent {
        kind,
        id: id.to_string(),
        data,
    })
}

/// Forwards the site feeds to `live` (and completion notices to
/// `notices`) until shutdown or the broker ends.
pub async fn pump(
    mut sub: Subscription,
    live: broadcast::Sender<LiveEvent>,
    notices: std::sync::Arc<Notices>,
    shutdown: CancellationToken,
) {
    loop {
        let msg = tokio::select! {
            () = shutdown.cancelled() => return,
            m = sub.next() => m,
        };
        let Some((topic, payload)) = msg else { return };
        if let Some(ev) = event_of(&topic, &payload) {
            if ev.kind == "notice" {
                notices.keep(&ev.data);
            }
            // No console connected is not an error.
            let _ = live.send(ev);
        }
    }
}

/// `GET /api/events`: server-sent events, one per change, named by kind
/// (`event: alarm`, `data: {"kind","id","data"}`); a `lagged` event tells a
/// client that fell behind to reload.
#[utoipa::path(get, path = "/api/events", tag = "live",
    responses((status = 200, description = "text/event-stream of alarm, order, device, kpi and notice changes"),
              (status = 401, description = "Not logged in")))]
pub(super) async fn events(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.need(Need::Read, "watch live changes")?;
    let rx = s.console.live.subscribe();
    let stream = stream::unfold(rx, |mut rx| async move {
        let ev = match rx.recv().await {
            Ok(ev) => Event::default()
                .event(ev.kind)
                .json_data(&ev)
                .unwrap_or_default(),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(ev), rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_feeds_become_live_events_and_others_do_not() {
        let ev =
            event_of(b"gs/v1/site/lianhua/alarm/gw01-a1", br#"{"id":"gw01-a1"}"#).expect("alarm");
        assert_eq!((ev.kind, ev.id.as_str()), ("alarm", "gw01-a1"));
        let ev = event_of(
            b"gs/v1/site/lianhua/device/smoke-1/availability",
            br#"{"status":"online"}"#,
        )
        .expect("device");
        assert_eq!((ev.kind, ev.id.as_str()), ("device", "smoke-1"));
        assert!(event_of(b"gs/v1/site/lianhua/tel/th-1", b"{}").is_none());
        assert!(event_of(b"gs/v1/dev/smoke-1/evt", b"{}").is_none());
        assert!(event_of(b"gs/v1/site/lianhua/alarm/a1", b"not json").is_none());
    }
}
