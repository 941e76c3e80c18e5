//! SQRL login in a small axum app: a home page that shows the login widget, or who is signed
//! in and a button to log out. Run it and open <http://127.0.0.1:3000>:
//!
//! ```sh
//! cargo run -p sqrl-axum --example embed            # or: … --example embed -- 127.0.0.1:4000
//! cargo run --release -p sqrl-cli -- login --danger-loopback-http 'sqrl://127.0.0.1:3000/sqrl?nut=…'
//! ```
//!
//! The lines marked `// SQRL` are all it takes; the rest is the app.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use sqrl_axum::SqrlHttp;
use sqrl_server_sqlite::SqliteStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::args().nth(1).unwrap_or("127.0.0.1:3000".into());
    let store = Arc::new(SqliteStore::open("embed-example.sqlite")?); // SQRL
    let origin = format!("http://{address}");
    let sqrl = SqrlHttp::setup(&origin, store).await?.start()?; // SQRL
    let app = Router::new()
        .route("/", get(home))
        .merge(sqrl.router()) // SQRL
        .with_state(sqrl);
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on {origin}");
    let app = app.into_make_service_with_connect_info::<SocketAddr>(); // SQRL
    axum::serve(listener, app).await?;
    Ok(())
}

async fn home(State(sqrl): State<SqrlHttp>, headers: HeaderMap) -> Html<String> {
    let signed_in = sqrl.signed_in(&headers).await; // SQRL
    let body = match signed_in {
        Ok(Some(user)) => format!(
            "<p>Signed in as {}</p><form method=post action=/sqrl/logout><button>Log out</button></form>", // SQRL
            user.account
        ),
        Ok(None) => format!(
            "<div data-sqrl-login></div><script src='{}' defer></script>", // SQRL
            sqrl.widget_src()                                              // SQRL
        ),
        Err(_) => "Try again in a moment.".to_owned(),
    };
    Html(format!("<!doctype html><title>Example</title>{body}"))
}
