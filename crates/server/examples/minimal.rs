//! The benchmark's baseline (docs/BENCHMARKS.md, scripts/bench-serve.sh):
//! a minimal axum handler answering the same bytes as a cached
//! `GET /v1/observables/{hash}` — no auth, no cache, no record, none of the
//! service's layers.
//!
//!   cargo run --release -p server --example minimal -- 127.0.0.1:8090 BODY_FILE

use axum::http::header;
use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    let body: &'static [u8] = match args.next() {
        Some(path) => Box::leak(std::fs::read(path)?.into_boxed_slice()),
        None => b"{}",
    };
    let app = Router::new().route(
        "/v1/observables/{*indicator}",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], body) }),
    );
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
