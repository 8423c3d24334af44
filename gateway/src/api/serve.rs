//! Binding and serving the API until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{ApiState, router};

/// The API, bound and ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    state: ApiState,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Server {
    /// Binds `listen` (port 0: any free port).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(listen: SocketAddr, state: ApiState) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Ok(Self {
            listener,
            state,
            tls: None,
        })
    }

    /// Serves HTTPS only, with `config`.
    #[must_use]
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Where it is bound.
    ///
    /// # Errors
    /// When the socket cannot tell.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown`, letting requests in flight finish.
    pub async fn run(self, shutdown: CancellationToken) {
        if let Some(config) = self.tls {
            let app = router(self.state);
            return super::tls::serve(self.listener, config, app, shutdown).await;
        }
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "HTTP API stopped");
        }
    }
}
